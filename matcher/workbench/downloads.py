"""Downloads of the table on screen, built only when the officer asks (a 生成下载文件 button, then the CSV and XLSX
buttons), never on every run: a page renders fast, and a cell a spreadsheet cannot hold never breaks a page."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from matcher.workbench import state
from matcher.workbench.export import CSV_MIME, XLSX_MIME, to_csv_bytes, to_xlsx_bytes
from matcher.workbench.guard import log

MAKE_LABEL = "生成下载文件"
FAILED = "下载文件生成失败，请重试或联系管理员；详情已记录在服务器日志。"


def frame_stamp(frame: pd.DataFrame) -> str:
    """A fingerprint of a table's columns and cells (the files are offered only for the table they were built from)."""
    digest = hashlib.sha1("\x1f".join(map(str, frame.columns)).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def download_buttons(frame: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and XLSX downloads of exactly the frame shown above them, built when 生成下载文件 is clicked.

    Args:
        frame: the table on screen.
        stem: the file name without extension.
        key: the table's download key (state.BROWSE_EXPORT, state.BATCH_EXPORT, state.SHORTLIST_EXPORT ...).
    """
    store = state.download(key, "files")
    stamp = frame_stamp(frame)
    c1, c2, c3, _ = st.columns([1.2, 1, 1, 3])
    if c1.button(MAKE_LABEL, key=state.download(key, "make"), disabled=frame.empty,
                 help="按当前筛选生成 CSV 与 XLSX 文件，内容与上表一致"):
        try:
            st.session_state[store] = (stamp, to_csv_bytes(frame), to_xlsx_bytes(frame, stem))
        except Exception:  # noqa: BLE001 - logged; the page goes on
            log.exception("workbench: building the downloads of %s failed", stem)
            st.session_state.pop(store, None)
            c1.error(FAILED)
    built = st.session_state.get(store)
    if not built or built[0] != stamp:
        return
    c2.download_button("导出 CSV", built[1], file_name=f"{stem}.csv", mime=CSV_MIME, key=state.download(key, "csv"))
    c3.download_button("导出 XLSX", built[2], file_name=f"{stem}.xlsx", mime=XLSX_MIME, key=state.download(key, "xlsx"))
