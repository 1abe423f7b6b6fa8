"""What a match card shows besides the evidence: both sides' contacts and links to their detail pages."""

from __future__ import annotations

import streamlit as st

from matcher.auth import User
from matcher.schema import Kind
from matcher.workbench.contacts import contact_line
from matcher.workbench.frames import Pair
from matcher.workbench.links import detail_link


def card_extras(pair: Pair, user: User) -> None:
    """Contacts of the patent's team and of the enterprise (hidden from viewers when configured), and the links."""
    lines = [f"{label}联系方式：{line}" for label, record, kind in (("专利团队", pair.patent, Kind.PATENT),
                                                                 ("企业", pair.enterprise, Kind.ENTERPRISE))
             if (line := contact_line(record, kind, user.can_edit))]
    if lines:
        st.markdown("<div class='mw-meta'>" + "<br>".join(lines) + "</div>", unsafe_allow_html=True)
    left, right, _ = st.columns([1, 1, 3])
    with left:
        detail_link(Kind.PATENT, pair.patent_id, "专利详情")
    if not pair.enterprise_id.startswith("TEXT-"):  # a pasted text (frames.text_query_id) has no detail page
        with right:
            detail_link(Kind.ENTERPRISE, pair.enterprise_id, "企业/需求详情")
