"""Logins: throttling per user name and per client, the empty form, failure logging, the users file's safety checks,
disabled accounts, and the signed login token that keeps a login across a browser refresh (library and workbench)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from matcher.auth import (
    COOKIE_NAME,
    DISABLED,
    EMPTY_FORM,
    EXAMPLE_USERS_FILE,
    WRONG_CREDENTIALS,
    Limits,
    LoginThrottle,
    RememberLogin,
    User,
    check_users_file,
    default_remember,
    demo_accounts,
    hash_password,
    load_users,
    sign_in,
)
from matcher.errors import MatcherError
from test_app import login

PASSWORD = "richtig-und-lang"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def users() -> dict[str, User]:
    digest = hash_password(PASSWORD, rounds=4)
    return {"zhang": User("zhang", "张老师", "editor", digest), "li": User("li", "李老师", "viewer", digest)}


def throttle(clock: Clock, **limits) -> LoginThrottle:
    return LoginThrottle(Limits(**{"max_failures": 5, "lock_seconds": 900, "free_failures": 2, "base_delay": 2.0,
                                   "max_delay": 30.0, **limits}), clock=clock)


def test_failures_slow_down_then_lock_and_the_lock_ends(users):
    clock = Clock()
    t = throttle(clock)
    outcomes = []
    for _ in range(2):  # two free failures
        outcomes.append(sign_in("zhang", "wrong", users, "ip:10.0.0.1", t).message)
    assert outcomes == [WRONG_CREDENTIALS] * 2
    # the third try must wait (2 s); even the right password is not checked before that
    early = sign_in("zhang", PASSWORD, users, "ip:10.0.0.1", t)
    assert early.user is None and early.locked and "请等待" in early.message
    for wait in (2, 4, 8):  # the wait doubles
        clock.now += wait
        assert sign_in("zhang", "wrong", users, "ip:10.0.0.1", t).message == WRONG_CREDENTIALS
    # five failures: locked for 15 minutes, for the name (from any client) and for the client (any name)
    locked = sign_in("zhang", PASSWORD, users, "ip:10.0.0.2", t)
    assert locked.user is None and "锁定" in locked.message and "15 分钟" in locked.message
    assert "锁定" in sign_in("li", PASSWORD, users, "ip:10.0.0.1", t).message
    assert sign_in("li", PASSWORD, users, "ip:10.0.0.3", t).user == users["li"]  # other name, other client
    clock.now += 900
    assert sign_in("zhang", PASSWORD, users, "ip:10.0.0.1", t).user == users["zhang"]
    assert t.failures("zhang") == 0  # a success forgives the failures


def test_per_client_count_across_user_names(users):
    clock = Clock()
    t = throttle(clock, free_failures=5)
    for name in ("a", "b", "c", "d", "e"):  # one client guessing five names
        assert sign_in(name, "wrong", users, "ip:10.9.9.9", t).message == WRONG_CREDENTIALS
    assert "锁定" in sign_in("zhang", PASSWORD, users, "ip:10.9.9.9", t).message
    assert sign_in("zhang", PASSWORD, users, "ip:10.1.1.1", t).user is not None


def test_failures_are_forgotten_after_a_quiet_lock_period(users):
    clock = Clock()
    t = throttle(clock)
    sign_in("zhang", "wrong", users, "c", t)
    assert t.failures("zhang") == 1
    clock.now += 901
    assert t.failures("zhang") == 0


def test_parallel_tries_cannot_pass_the_limit(users):
    """Tries are counted before bcrypt runs: 20 simultaneous wrong tries get at most 5 password checks."""
    t = throttle(Clock(), free_failures=5)
    barrier = threading.Barrier(20)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        results.append(sign_in("zhang", "wrong", users, "ip:10.0.0.7", t).message)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count(WRONG_CREDENTIALS) == 5
    assert sum("锁定" in m for m in results) == 15


def test_empty_form_is_not_a_failure(users):
    t = throttle(Clock())
    for name, password in (("", ""), ("zhang", ""), ("", PASSWORD), ("   ", PASSWORD)):
        outcome = sign_in(name, password, users, "c", t)
        assert (outcome.user, outcome.message) == (None, EMPTY_FORM)
    assert t.failures("zhang", "c") == 0


def test_every_failure_is_logged_without_the_password(users, caplog):
    t = throttle(Clock(), free_failures=5, max_failures=3)
    with caplog.at_level(logging.INFO, logger="matcher.auth"):
        for name in ("zhang", "nobody", "zhang", "zhang"):
            sign_in(name, "geheim-123", users, "ip:192.0.2.5", t)
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 4
    assert "'zhang'" in failed[0] and "ip:192.0.2.5" in failed[0] and "known user" in failed[0]
    assert "'nobody'" in failed[1] and "unknown user" in failed[1]
    assert "refused" in failed[3] and "locked" in failed[3]
    assert not any("geheim-123" in r.getMessage() for r in caplog.records)


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("MATCHER_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("MATCHER_LOGIN_LOCK_MINUTES", "1.5")
    limits = Limits.from_env()
    assert (limits.max_failures, limits.lock_seconds, limits.free_failures) == (3, 90.0, 2)
    monkeypatch.setenv("MATCHER_LOGIN_MAX_FAILURES", "many")
    with pytest.raises(MatcherError, match="MATCHER_LOGIN_MAX_FAILURES"):
        Limits.from_env()
    monkeypatch.setenv("MATCHER_LOGIN_MAX_FAILURES", "0")
    with pytest.raises(MatcherError, match="positive"):
        Limits.from_env()


def test_users_file_checks(tmp_path, users, caplog):
    own = tmp_path / "users.toml"
    own.write_text(f'[users.zhang]\nname = "张老师"\nrole = "editor"\npassword_hash = "{users["zhang"].password_hash}"\n',
                   encoding="utf-8")
    own.chmod(0o600)
    assert check_users_file(own) == []
    own.chmod(0o664)
    with caplog.at_level(logging.WARNING, logger="matcher.auth"):
        notes = check_users_file(own)
    assert len(notes) == 1 and "chmod 600" in notes[0] and "同组或其他用户" in notes[0]
    assert any("writable" in r.getMessage() for r in caplog.records)
    demo = tmp_path / "copied.toml"
    demo.write_text(EXAMPLE_USERS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    demo.chmod(0o600)
    notes = check_users_file(demo)
    assert len(notes) == 1 and "演示账号" in notes[0] and "editor、viewer" in notes[0]
    assert demo_accounts(load_users(demo)) == ["editor", "viewer"]


# ----------------------------------------------------------------------------- disabled accounts
def test_a_disabled_account_cannot_sign_in(tmp_path, users):
    path = tmp_path / "users.toml"
    path.write_text(f'[users.zhang]\nname = "张老师"\nrole = "editor"\ndisabled = true\n'
                    f'password_hash = "{users["zhang"].password_hash}"\n', encoding="utf-8")
    loaded = load_users(path)
    assert loaded["zhang"].disabled
    assert sign_in("zhang", "wrong", loaded, "ip:1", throttle(Clock())).message == WRONG_CREDENTIALS
    assert sign_in("zhang", PASSWORD, loaded, "ip:1", throttle(Clock())).message == DISABLED  # said after the password
    path.write_text(path.read_text(encoding="utf-8").replace("disabled = true", 'disabled = "yes"'), encoding="utf-8")
    with pytest.raises(MatcherError, match="disabled"):
        load_users(path)


# ----------------------------------------------------------------------------- the login token (remember)
SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_token_signs_in_until_it_expires(users):
    clock = Clock()
    clock.now = time.time()  # tokens are signed with the real time; the clock says when they are checked
    remember = RememberLogin(SECRET, hours=8, clock=clock)
    token = remember.issue(users["zhang"])
    assert remember.verify(token, users) == users["zhang"]
    assert remember.expires_at(token) == pytest.approx(clock.now + 8 * 3600, abs=5)
    clock.now = time.time() + 8 * 3600 - 60  # a minute before the end
    assert remember.verify(token, users) == users["zhang"]
    clock.now = time.time() + 8 * 3600 + 60
    assert remember.verify(token, users) is None and remember.expires_at(token) is None
    assert remember.max_age == 8 * 3600


def test_token_refused_when_forged_removed_disabled_changed_or_revoked(users, caplog):
    remember = RememberLogin(SECRET)
    token = remember.issue(users["zhang"])
    assert remember.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), users) is None  # tampered
    assert RememberLogin("another-secret-of-the-right-length-9876543210").verify(token, users) is None
    assert remember.verify("", users) is None and remember.verify("garbage", users) is None
    with caplog.at_level(logging.INFO, logger="matcher.auth"):
        assert remember.verify(token, {"li": users["li"]}) is None  # account removed
        disabled = {"zhang": replace(users["zhang"], disabled=True)}
        assert remember.verify(token, disabled) is None
        changed = {"zhang": replace(users["zhang"], password_hash=hash_password("a new password", rounds=4))}
        assert remember.verify(token, changed) is None
        renamed = {"zhang": replace(users["zhang"], name="张主任", role="viewer")}
        assert remember.verify(token, renamed) == renamed["zhang"]  # role and name changes apply, the token holds
        other = remember.issue(users["zhang"])
        remember.revoke(token)
        assert remember.verify(token, users) is None  # signed out
        assert remember.verify(other, users) == users["zhang"]  # another login (browser) of the same officer holds
    reasons = [r.getMessage() for r in caplog.records]
    assert [m.split(": ")[-1] for m in reasons] == ["account removed", "account disabled", "password changed",
                                                  "signed out"]
    assert users["zhang"].password_hash not in token  # the token is signed, not secret: it shows no hash
    assert COOKIE_NAME == "matcher_login"


def test_tokens_off_without_a_usable_secret(monkeypatch, tmp_path, caplog):
    for name in ("MATCHER_LOGIN_COOKIE_SECRET", "MATCHER_LOGIN_COOKIE_SECRET_FILE", "MATCHER_LOGIN_COOKIE_HOURS"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, logger="matcher.auth"):
        assert RememberLogin.from_env() is None
        monkeypatch.setenv("MATCHER_LOGIN_COOKIE_SECRET", "short")
        assert RememberLogin.from_env() is None
    assert "not kept across a browser refresh" in caplog.records[0].getMessage()
    assert "fewer than 32 characters" in caplog.records[1].getMessage()
    assert "short" not in caplog.text  # the secret is never logged
    monkeypatch.delenv("MATCHER_LOGIN_COOKIE_SECRET")
    secret_file = tmp_path / "cookie_secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("MATCHER_LOGIN_COOKIE_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("MATCHER_LOGIN_COOKIE_HOURS", "0.5")
    remember = RememberLogin.from_env()
    assert remember is not None and remember.max_age == 1800
    assert default_remember() is default_remember() and default_remember().max_age == 1800
    monkeypatch.setenv("MATCHER_LOGIN_COOKIE_HOURS", "forever")
    with caplog.at_level(logging.ERROR, logger="matcher.auth"):
        assert default_remember() is None
    assert "MATCHER_LOGIN_COOKIE_HOURS" in caplog.records[-1].getMessage()
    with pytest.raises(MatcherError, match="at least 32"):
        RememberLogin("short")


# ----------------------------------------------------------------------------- the workbench: cookie, links, logout
ROOT = Path(__file__).resolve().parent.parent
DEMO_USERS = ROOT / "config" / "users.example.toml"


@pytest.fixture()
def app_env(monkeypatch, demo_index, cache_dir, tmp_path):
    """The workbench's environment: demo index, demo users, a fresh SQLite tracking DB, a login cookie secret, and the
    cookie this test's browser sends (`cookie["value"]`; the real one comes from st.context.cookies)."""
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(demo_index))
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MATCHER_USERS_FILE", str(DEMO_USERS))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    monkeypatch.setenv("MATCHER_LOGIN_COOKIE_SECRET", SECRET)
    monkeypatch.delenv("MATCHER_LOGIN_COOKIE_SECRET_FILE", raising=False)
    monkeypatch.delenv("MATCHER_LOGIN_COOKIE_HOURS", raising=False)
    monkeypatch.delenv("MATCHER_CONFIG", raising=False)
    monkeypatch.setattr("matcher.auth.throttle._default", None)
    cookie = {"value": ""}
    monkeypatch.setattr("matcher.workbench.session._cookie_token", lambda: cookie["value"])
    return cookie


def _app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)


def _log_in(at, who=("editor", "demo-editor-2024")):
    return login(at, who)


def _cookie_scripts(at) -> list[str]:
    return [h.value for h in at.html if COOKIE_NAME in h.value]


def _login_form(at) -> bool:
    return any(t.key == "login_user" for t in at.text_input)


def _signed_in(at) -> bool:
    return not _login_form(at) and any(t.value == "匹配浏览" for t in at.title)


def test_a_refresh_keeps_the_login_and_logout_ends_it(app_env):
    from matcher.workbench import state

    at = _log_in(_app())
    token = at.session_state[state.LOGIN_TOKEN]
    (script,) = _cookie_scripts(at)
    assert f"{COOKIE_NAME}={token}" in script and "SameSite=Strict" in script and "expires=" in script.lower()
    assert '"https:" ? "; Secure"' in script
    app_env["value"] = token  # the browser sends the cookie when the page is refreshed: a new session
    refreshed = _app().run()
    assert not refreshed.exception and _signed_in(refreshed)
    assert "演示编辑" in "".join(c.value for c in refreshed.caption)
    next(b for b in refreshed.button if b.label == "退出登录").click()
    refreshed.run()
    assert _login_form(refreshed) and not _signed_in(refreshed)
    (delete,) = _cookie_scripts(refreshed)
    assert "Max-Age=0" in delete
    refreshed.run()  # the cookie this session connected with no longer signs it in
    assert _login_form(refreshed)
    again = _app().run()  # nor another session that still sends it (signed out: revoked on the server)
    assert _login_form(again) and "Max-Age=0" in _cookie_scripts(again)[0]


def test_a_cookie_of_a_disabled_account_or_without_a_secret_signs_nobody_in(app_env, tmp_path, monkeypatch):
    from matcher.workbench import state

    at = _log_in(_app())
    app_env["value"] = at.session_state[state.LOGIN_TOKEN]
    users = tmp_path / "users.toml"
    users.write_text(DEMO_USERS.read_text(encoding="utf-8").replace('role = "editor"', 'role = "editor"\ndisabled = true'),
                     encoding="utf-8")
    monkeypatch.setenv("MATCHER_USERS_FILE", str(users))
    refused = _app().run()
    assert _login_form(refused) and not _signed_in(refused)
    at.run()  # the open session ends too
    assert _login_form(at) and "停用" in at.warning[0].value
    monkeypatch.setenv("MATCHER_USERS_FILE", str(DEMO_USERS))
    monkeypatch.delenv("MATCHER_LOGIN_COOKIE_SECRET")  # persistence off: the cookie is not read, none is written
    off = _app().run()
    assert _login_form(off)
    assert not _cookie_scripts(_log_in(_app()))


def test_the_picked_records_are_in_the_url(app_env):
    at = _app()
    at.query_params["enterprise"] = "DEMO-D-002"  # a shared link to a demand
    _log_in(at)
    assert at.selectbox(key="q_enterprise").value == "DEMO-D-002"
    assert "条专利符合筛选条件" in "".join(m.value for m in at.markdown)
    at.selectbox(key="q_enterprise").select("DEMO-D-001").run()
    assert at.query_params["enterprise"] == "DEMO-D-001"  # the officer's pick, ready to be shared
    at.radio(key="mode").set_value("patent").run()
    assert at.radio(key="mode").value == "patent" and "enterprise" not in at.query_params
    linked = _app()
    linked.query_params["patent"] = "DEMO-P-003"  # a link to a patent opens the patent -> enterprises direction
    _log_in(linked)
    assert linked.radio(key="mode").value == "patent" and linked.selectbox(key="q_patent").value == "DEMO-P-003"
