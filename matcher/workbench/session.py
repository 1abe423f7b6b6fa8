"""What every workbench page shares: the login gate, the page decorator (login check, queued messages, MatcherError as
one message), the cached engine and tracking store, downloads and sidebar filters. The session state's keys and
helpers live in `matcher.workbench.state` (re-exported here: flash, keep).

Logins go through matcher.auth.sign_in (throttled per user name and per client; see `client_key`), and the signed-in
officer is re-read from the users file on every run and every button callback (`current_user`): a removed or disabled
account or a changed password ends the session at once, a changed role or name applies at once. A login survives a
browser refresh through a signed, expiring cookie (matcher.auth.remember; read with st.context.cookies, written and
deleted by a one-line script) when a cookie secret is configured. The picked records live in the URL (`url_pick`,
`url_put`), so a refresh keeps them and a link can be shared."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from email.utils import formatdate
from http.cookies import SimpleCookie

import pandas as pd
import streamlit as st

from matcher.auth import COOKIE_NAME, User, default_remember, sign_in
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.tracking import TrackingStore
from matcher.workbench import state
from matcher.workbench import downloads
from matcher.workbench.guard import show_page_error
from matcher.workbench.resources import get_matcher, get_store, get_users, index_dir, users_file_notes, warm_matcher
from matcher.workbench.state import flash, keep

__all__ = ["APP_TITLE", "RUNNING_INDICATOR_CSS", "client_key", "current_user", "download_buttons", "engine", "flash",
           "keep", "login_gate", "page", "require_user", "show_flash", "sidebar_multiselect", "signed_in_user", "tracking_store", "url_pick", "url_put"]

APP_TITLE = "专利–企业匹配工作台"
log = logging.getLogger("matcher.auth")

_CSS = """
<style>
.mw-text {max-height: 11em; overflow-y: auto; font-size: 0.92rem; line-height: 1.55;
          border-left: 3px solid #e5e7eb; padding-left: .6em;}
.mw-text mark, .mw-sent mark {background: #fde68a; padding: 0 .1em; border-radius: 2px;}
.mw-terms span {display: inline-block; background: #fef3c7; border: 1px solid #f59e0b; border-radius: 9px;
                padding: 0 .5em; margin: 0 .25em .2em 0; font-size: .85rem;}
.mw-sent {background: #eff6ff; border-radius: 6px; padding: .4em .7em; font-size: .92rem;}
.mw-meta {color: #374151; font-size: .88rem;}
</style>
"""

RUNNING_INDICATOR_CSS = (
    "<style>"
    '[data-testid="stStatusWidget"] button {visibility: hidden; font-size: 0;}'
    '[data-testid="stStatusWidget"] button::after {visibility: visible; font-size: .875rem; content: "停止";}'
    '[data-testid="stStatusWidget"] button:disabled::after {content: "正在停止…";}'
    "</style>")
"""CSS that replaces the English of Streamlit's running indicator (its "Stop" / "Stopping..." button, shown at the
top right while a page computes for more than half a second; Streamlit has no setting for it) with Chinese. The
button still stops the run: a click on the visible text is a click on the button. The indicator's other buttons
("Rerun" after a change of the app's files) never show: .streamlit/config.toml turns the file watcher off."""


def show_flash() -> None:
    """Show the messages queued by `flash`."""
    for level, message in state.take_flashes():
        getattr(st, level)(message)


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def client_key() -> str:
    """Who is logging in, for the per-client failure count.

    A direct connection is its address (st.context.ip_address). Streamlit gives no address for a connection from
    the same machine, i.e. the reverse proxy of docs/workbench.md: then the last X-Forwarded-For entry, the one the
    proxy appended (earlier entries come from the browser and are not trusted). Without either: this browser
    session (a new tab starts a new count, so the per-user-name count is what really limits guessing there).
    """
    try:
        ip = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For")
    except (AttributeError, RuntimeError):  # no request behind this run (bare or test runs)
        ip, forwarded = None, None
    if isinstance(ip, str) and ip and ip not in _LOOPBACK:
        return f"ip:{ip}"
    forwarded = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
    if forwarded:
        return f"ip:{forwarded}"
    return f"session:{state.session_client()}"


def current_user() -> User | None:
    """The signed-in officer as the users file has them now, or None.

    The session ends (with a reason for the login form) when the account was removed or disabled or its password
    changed; a changed role or name is applied to the session. An unreadable users file ends nothing and returns None.
    """
    user = state.current_user()
    if user is None:
        return None
    try:
        fresh = get_users().get(user.username)
    except MatcherError:
        return None
    if fresh is None or fresh.password_hash != user.password_hash:
        end_session("您的账号已被删除或密码已更改，请重新登录。")
        return None
    if fresh.disabled:
        end_session("您的账号已被停用，请联系管理员。")
        return None
    if fresh != user:
        state.sign_in(fresh)
    return fresh


def _cookie_token() -> str:
    """The login cookie the browser sent when this session connected ("" when none)."""
    try:
        return str(st.context.cookies.get(COOKIE_NAME) or "")
    except (AttributeError, RuntimeError):  # no request behind this run (bare or test runs)
        return ""


def signed_in_user() -> User | None:
    """The signed-in officer: of this session, else of a valid login cookie (a browser refresh), else None.

    A cookie that no longer signs anyone in (expired, signed out, account removed or disabled, password changed, bad
    signature) is deleted from the browser on the login form. Cookies never touch the login throttle.
    """
    user = current_user()
    if user is not None:
        return user
    token = _cookie_token()
    remember = default_remember()
    if not token or token == state.dropped_token() or remember is None:
        return None
    try:
        users = get_users()
    except MatcherError:
        return None
    user = remember.verify(token, users)
    if user is None:
        state.drop_token(token)
        return None
    log.info("login restored from the login cookie: user %r", user.username)
    state.sign_in(user)
    state.set_login_token(token)
    return user


def end_session(reason: str = "") -> None:
    """Sign out: the login token is refused from now on and deleted from the browser, the session's values are
    cleared; `reason` is shown on the login form."""
    token = state.login_token() or _cookie_token()
    remember = default_remember()
    if token and remember is not None:
        remember.revoke(token)
    state.sign_out(reason)
    if token:
        state.drop_token(token)


def _cookie_script(value: str, expires: float | None) -> str:
    """A script that writes the login cookie (`expires` None: deletes it); Secure when the page is served over https."""
    jar = SimpleCookie()
    jar[COOKIE_NAME] = value
    morsel = jar[COOKIE_NAME]
    morsel["path"] = "/"
    morsel["samesite"] = "Strict"
    if expires is None:
        morsel["max-age"] = 0
    else:
        morsel["expires"] = formatdate(expires, usegmt=True)
    cookie = json.dumps(morsel.OutputString()).replace("<", "\\u003c")
    return f'<script>document.cookie = {cookie} + (location.protocol === "https:" ? "; Secure" : "");</script>'


def _write_login_cookie(where) -> None:
    """Keep this session's login token in the browser's cookie (the same script on every run: written once)."""
    remember, token = default_remember(), state.login_token()
    expires = remember.expires_at(token) if remember is not None and token else None
    if expires is not None:
        where.html(_cookie_script(token, expires), unsafe_allow_javascript=True)


def login_gate() -> User:
    """Return the signed-in user (with the account box in the sidebar); otherwise render the login form and stop the
    script (no data shown)."""
    try:
        users = get_users()
    except MatcherError as exc:
        st.title(APP_TITLE)
        st.error(str(exc))
        st.stop()
        raise
    notes = users_file_notes()  # logged once per file version, shown to editors below
    user = signed_in_user()
    if user is not None:
        with st.sidebar:
            st.caption(f"已登录：{user.label}")
            if user.can_edit:
                for note in notes:
                    st.warning(f"管理员注意：{note}")
            if st.button("退出登录", key=state.LOGOUT):
                end_session()
                st.rerun()
        _write_login_cookie(st.sidebar)
        return user
    warm_matcher()  # load the engine while the officer types the password
    st.title(APP_TITLE)
    st.caption("技术经理人工作台：双向匹配浏览、推送跟踪、总览与导出。请先登录。")
    reason = state.take_sign_out_reason()
    if reason:
        st.warning(reason)
    with st.form(state.LOGIN_FORM):
        username = st.text_input("用户名", key=state.LOGIN_USER)
        password = st.text_input("密码", type="password", key=state.LOGIN_PASSWORD)
        submitted = st.form_submit_button("登录", type="primary")
    if state.dropped_token():
        st.html(_cookie_script("", None), unsafe_allow_javascript=True)
    if submitted:
        outcome = sign_in(username, password, users, client_key())
        if outcome.user is None:
            st.error(outcome.message)
        else:
            state.sign_in(outcome.user)
            remember = default_remember()
            if remember is not None:
                state.set_login_token(remember.issue(outcome.user))
            st.rerun()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


def require_user() -> User:
    """The signed-in user (stops the page when there is none)."""
    user = current_user()
    if user is None:
        st.warning("请先登录")
        st.stop()
    return user


def page(fn: Callable[[], None]) -> Callable[[], None]:
    """Decorate a page: check the login, show queued messages, turn MatcherError into a message."""

    @functools.wraps(fn)
    def wrapper() -> None:
        require_user()
        st.markdown(_CSS, unsafe_allow_html=True)
        show_flash()
        try:
            fn()
        except MatcherError as exc:
            st.error(str(exc))
        except Exception:  # noqa: BLE001 - never a traceback in the browser (matcher.workbench.guard)
            show_page_error(fn.__name__)

    return wrapper


def engine() -> Matcher:
    """The cached engine, or an error message with the command that builds an index, which stops the page."""
    try:
        return get_matcher()
    except MatcherError as exc:
        st.error(f"匹配引擎无法加载：{exc}")
        st.info(f"索引目录：{index_dir()}（环境变量 MATCHER_INDEX_DIR）。可运行：`matcher build --patents data/demo/patents.csv "
                "--enterprises data/demo/enterprises.csv`")
        st.stop()
        raise


def tracking_store() -> TrackingStore:
    """The tracking store, or an error message that stops the page when the database cannot be used."""
    try:
        store = get_store()
    except MatcherError as exc:
        st.error(f"跟踪数据库无法使用：{exc}")
        st.stop()
        raise
    if store.notice:  # the SQLite file was created on start-up: say so on every page that reads the shortlist
        st.sidebar.warning(store.notice)
    return store


def download_buttons(frame: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and XLSX downloads of exactly the frame shown above them, built only when asked (matcher.workbench.downloads)."""
    downloads.download_buttons(frame, stem, key)


def sidebar_multiselect(label: str, options: list[str], key: str, help: str | None = None) -> list[str]:
    """A sidebar filter that keeps its choice across pages and drops choices no longer offered ([] without options)."""
    if not options:
        return []
    keep(key, [])
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    return st.sidebar.multiselect(label, options, key=key, placeholder="不限", help=help, select_all=False)


def url_pick(key: str, param: str, convert: Callable[[str], object] = str) -> None:
    """Before a record picker: the record named in the URL (`?param=value`: a shared link, a refresh) becomes the
    picker's value, once per value, so the officer can pick another one afterwards.

    Args:
        key: the picker's session-state key.
        param: the URL parameter (`pair` for a tracking record, `patent` / `enterprise` for a patent or an enterprise).
        convert: turns the parameter's text into the picker's value (a value it refuses is ignored).
    """
    raw = st.query_params.get(param)
    applied = state.url_applied()
    seen, keys = applied.get(param, ("", set()))
    if raw is None or (seen == raw and (keys is None or key in keys)):
        return
    applied[param] = (raw, (keys if seen == raw else set()) | {key})
    try:
        st.session_state[key] = convert(raw)
    except (TypeError, ValueError):
        pass


def url_put(param: str, value: object) -> None:
    """After a record picker: show its value in the URL (`?param=value`; removed when nothing is picked)."""
    if value is None or value == "":
        if param in st.query_params:
            del st.query_params[param]
        return
    text = str(value)
    state.url_applied()[param] = (text, None)  # what the officer picked is never applied back to a picker
    if st.query_params.get(param) != text:
        st.query_params[param] = text
