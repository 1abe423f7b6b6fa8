"""What a match card shows besides the evidence: the patent's grades, the pair's licence fit, both sides' contacts
and links to their detail pages."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from matcher.auth import User
from matcher.grading.grades import grades_by_id
from matcher.grading.tiers import grade_text
from matcher.office.licence_fit import licence_fit
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


def grades_of(grades: pd.DataFrame | None, patent_ids: list[str]) -> dict[str, dict]:
    """patent id -> its grades row (matcher.grading.grades) for the patents shown ({} when the index has no grades)."""
    if grades is None or not patent_ids:
        return {}
    rows = grades_by_id(grades)
    return rows[rows.index.isin(set(patent_ids))].to_dict("index")


def office_lines(pair: Pair, grades: Mapping[str, Mapping]) -> list[str]:
    """The card's office lines: the patent's grades (tier, maturity, prospect, each with its source) when it is graded,
    and the licence fit when either side states terms or the enterprise may be offered 先免费后有偿."""
    lines = []
    if (row := grades.get(pair.patent_id)) and (text := grade_text(row)):
        lines.append(text)
    fit = licence_fit(pair.enterprise, pair.patent)
    if fit.level is not None or fit.free_first:
        lines.append(fit.line())
    return lines
