"""Links between the workbench's pages: a patent's or an enterprise's detail page, a tracking record.

URL parameters shared with the other pages: `?patent=ID` and `?enterprise=ID` (a record), `?pair=ID` (a tracking
record on 推送跟踪).
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from matcher.schema import Kind

PAGE_DIR = "matcher/workbench/page_files"  # relative to app.py, as st.page_link names file pages
DETAIL_FILE = {Kind.PATENT: f"{PAGE_DIR}/patent.py", Kind.ENTERPRISE: f"{PAGE_DIR}/enterprise.py"}
DETAIL_PATH = {Kind.PATENT: "patent", Kind.ENTERPRISE: "enterprise"}  # the pages' url_path in app.py
PARAM = {Kind.PATENT: "patent", Kind.ENTERPRISE: "enterprise"}  # the URL parameter naming the record
PAIR_PARAM = "pair"
TRACKING_FILE = f"{PAGE_DIR}/tracking.py"


def detail_url(kind: Kind, record_id: str) -> str:
    """The relative URL of a record's detail page (for link columns of tables)."""
    return f"./{DETAIL_PATH[Kind(kind)]}?{PARAM[Kind(kind)]}={quote(str(record_id), safe='')}"


def detail_link(kind: Kind, record_id: str, label: str | None = None) -> None:
    """A link to a record's detail page (st.page_link with `?patent=` / `?enterprise=`)."""
    kind = Kind(kind)
    st.page_link(DETAIL_FILE[kind], label=label or ("专利详情" if kind == Kind.PATENT else "企业/需求详情"),
                 icon=":material/open_in_new:", query_params={PARAM[kind]: str(record_id)})


def pair_link(item_id: int, label: str | None = None) -> None:
    """A link to a tracking record on 推送跟踪 (`?pair=ID`)."""
    st.page_link(TRACKING_FILE, label=label or f"在推送跟踪中打开记录 #{item_id}", icon=":material/checklist:",
                 query_params={PAIR_PARAM: str(item_id)})
