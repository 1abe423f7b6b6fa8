"""What a tracking record shows besides its editor: links to both sides' detail pages and to its letter, and its
note thread."""

from __future__ import annotations

import streamlit as st

from matcher.auth import User
from matcher.schema import Kind
from matcher.tracking import TrackingStore
from matcher.workbench.links import PAIR_PARAM, PAGE_DIR, detail_link
from matcher.workbench.notes_ui import note_thread

LETTER_FILE = f"{PAGE_DIR}/letter.py"


def item_extras(store: TrackingStore, user: User, item_id: int) -> None:
    """Links (专利详情 / 企业详情 / 推送函) and the note thread of one tracking record."""
    item = store.get(item_id)
    c1, c2, c3, _ = st.columns([1, 1, 1, 2])
    with c1:
        detail_link(Kind.PATENT, item.patent_id, "专利详情")
    if not item.enterprise_id.startswith("TEXT-"):  # a pasted demand has no detail page
        with c2:
            detail_link(Kind.ENTERPRISE, item.enterprise_id, "企业/需求详情")
    c3.page_link(LETTER_FILE, label="生成推送函", icon=":material/mail:", query_params={PAIR_PARAM: str(item_id)})
    note_thread(store, user, item_id)
