"""Logins: throttling per user name and per client, the empty form, failure logging, the users file's safety checks."""

from __future__ import annotations

import logging
import threading

import pytest

from matcher.auth import (
    EMPTY_FORM,
    EXAMPLE_USERS_FILE,
    WRONG_CREDENTIALS,
    Limits,
    LoginThrottle,
    User,
    check_users_file,
    demo_accounts,
    hash_password,
    load_users,
    sign_in,
)
from matcher.errors import MatcherError

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
