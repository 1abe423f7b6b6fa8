"""No traceback reaches an officer: an unexpected error in a page or a button callback becomes one Chinese message, and
its traceback goes to the server log (logger "matcher")."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import streamlit as st

from matcher.workbench import state

PAGE_ERROR = "页面出错，请刷新或联系管理员；详情已记录在服务器日志。"
ACTION_ERROR = "操作未完成，请重试或联系管理员；详情已记录在服务器日志。"

log = logging.getLogger("matcher")


def show_page_error(where: str) -> None:
    """Log the exception being handled (with its traceback) and show the officer `PAGE_ERROR`.

    Args:
        where: what failed, for the log line (the page function's name).
    """
    log.exception("workbench: unexpected error in %s", where)
    st.error(PAGE_ERROR)


def callback(fn: Callable) -> Callable:
    """Decorate a button callback: an unexpected exception is logged and queued as `ACTION_ERROR` for the next run
    (Streamlit's own control flow, st.rerun / st.stop, passes through: it is not an Exception)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - anything unexpected: logged, one message for the officer
            log.exception("workbench: unexpected error in %s", fn.__name__)
            state.flash("error", ACTION_ERROR)
            return None

    return wrapper
