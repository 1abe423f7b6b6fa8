"""专利详情 / 企业详情: one record in full, its matches both ways, its held patents, its terms and its tracking.

Reached by link from cards and tables (`?patent=ID`, `?enterprise=ID`), or by picking a record on the page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.auth import User
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.schema import Kind, schema_for
from matcher.tracking import TrackingStore
from matcher.workbench import state
from matcher.workbench.contacts import FIELDS, contact_line
from matcher.workbench.degree import grade
from matcher.workbench.frames import clean, local_time, shortlist_frame
from matcher.workbench.links import PARAM, detail_url, pair_link
from matcher.workbench.markup import md, md_code
from matcher.workbench.notes_ui import note_thread
from matcher.workbench.session import engine, keep, page, require_user, tracking_store, url_pick, url_put
from matcher.workbench.terms_ui import terms_section

PICK_LIMIT = 200
REVERSE_DEPTH = 50  # how deep the other side's own list is searched for this record
LABEL = {Kind.PATENT: "专利", Kind.ENTERPRISE: "企业/需求"}
NAME = {Kind.PATENT: "title", Kind.ENTERPRISE: "name"}
TEXT = {Kind.PATENT: "abstract", Kind.ENTERPRISE: "text"}


@page
def patent_detail_page() -> None:
    """One patent: record, contacts, licence terms (editable), ranked enterprises, tracking."""
    _detail(Kind.PATENT)


@page
def enterprise_detail_page() -> None:
    """One enterprise / demand: record, contacts, ranked patents, held patents, tracking."""
    _detail(Kind.ENTERPRISE)


def _detail(kind: Kind) -> None:
    user = require_user()
    matcher, store = engine(), tracking_store()
    st.title(f"{LABEL[kind]}详情")
    if not matcher.has(kind):
        st.info(f"索引中没有{LABEL[kind]}")
        return
    record_id = _chosen(matcher, kind)
    if record_id is None:
        st.info(f"请选择一条{LABEL[kind]}，或从匹配卡片、表格中的「详情」链接进入")
        return
    try:
        record = matcher.collection(kind).record(record_id)
    except MatcherError:
        st.warning(f"索引中没有编号为 {md_code(record_id)} 的{LABEL[kind]}（可能已被删除）")
        return
    st.subheader(md(clean(record.get(NAME[kind]))))
    st.markdown(f"编号 {md_code(record_id)}")
    line = contact_line(record, kind, user.can_edit)
    if line:
        st.markdown(f"**联系方式**：{line}")
    st.markdown(f"<div class='mw-text'>{md(clean(record.get(TEXT[kind])))}</div>", unsafe_allow_html=True)
    with st.expander("完整记录", expanded=False):
        st.dataframe(record_table(record, kind), hide_index=True, width="stretch")
    if kind == Kind.PATENT:
        terms_section(store, user, record_id, record)
    else:
        _held_patents(matcher, record_id)
    _matches(matcher, kind, record_id)
    _tracking(store, user, kind, record_id)


def _chosen(matcher: Matcher, kind: Kind) -> str | None:
    """The record named by the URL (`?patent=` / `?enterprise=`), else the one picked here (then put in the URL)."""
    param = PARAM[kind]
    recs = matcher.collection(kind).records
    ids = recs["id"].astype(str)
    names = dict(zip(ids, recs[NAME[kind]].map(clean)))
    pick = keep(state.detail_pick(kind))
    url_pick(pick, param)  # a link's record, applied once: the officer may pick another one afterwards
    c1, c2 = st.columns([1, 2])
    needle = c1.text_input(f"按名称或编号查找{LABEL[kind]}", key=keep(state.detail_search(kind), ""), placeholder="输入关键字",
                           max_chars=200).strip()
    if needle:
        hit = ids.str.contains(needle, case=False, regex=False) | recs[NAME[kind]].astype(str).str.contains(
            needle, case=False, regex=False)
        ids = ids[hit.to_numpy()]
    options = ids.tolist()[:PICK_LIMIT]
    current = st.session_state.get(pick)
    if current and current not in options:
        options = [current, *options]
    chosen = c2.selectbox(f"选择{LABEL[kind]}", options, key=pick, index=None, placeholder="请选择…",
                          format_func=lambda i: f"{names.get(i, '')}（{i}）")
    url_put(param, chosen)
    return chosen


def record_table(record: dict, kind: Kind) -> pd.DataFrame:
    """Every non-empty column of the record (contacts left out: they are shown apart), with Chinese names."""
    schema = schema_for(kind)
    rows = [{"字段": (schema.aliases.get(col) or (col,))[0], "内容": clean(record.get(col))}
            for col in schema.columns if col not in FIELDS[kind] and clean(record.get(col))]
    return pd.DataFrame(rows, columns=["字段", "内容"])


def _held_patents(matcher: Matcher, enterprise_id: str) -> None:
    """The indexed patents this enterprise holds (applicant = its name)."""
    if not matcher.has(Kind.PATENT):
        return
    row = matcher.collection(Kind.ENTERPRISE).rows_of([enterprise_id])[0]
    held = matcher.signals.portfolio.patents_of(int(row))
    st.markdown(f"**企业已持有的专利**（共 {len(held)} 件）")
    if not len(held):
        st.caption("索引中没有以该企业为申请人的专利")
        return
    patents = matcher.collection(Kind.PATENT).records.loc[list(map(int, held))]
    st.dataframe(pd.DataFrame({"专利号": patents["id"].astype(str), "专利名称": patents["title"].map(clean),
                               "详情": [detail_url(Kind.PATENT, i) for i in patents["id"].astype(str)]}),
                 hide_index=True, width="stretch",
                 column_config={"详情": st.column_config.LinkColumn("详情", display_text="打开")})


def match_table(matcher: Matcher, kind: Kind, record_id: str, k: int) -> pd.DataFrame:
    """This record's top-k matches on the other side, each with where this record stands in that match's own list."""
    other = Kind.ENTERPRISE if kind == Kind.PATENT else Kind.PATENT
    if not matcher.has(other):
        return pd.DataFrame()
    result = matcher.search(matcher.query_for(kind, record_id), other, k=k)[0]
    degrees = grade(matcher, result).degrees  # 匹配度 0-100, as on every page (matcher.workbench.degree)
    ids = [m.target_id for m in result.matches]
    back = matcher.search([matcher.query_for(other, i) for i in ids], kind, k=REVERSE_DEPTH, explain=False) if ids else []
    reverse = {}
    for res in back:
        rank = next((m.rank for m in res.matches if m.target_id == record_id), None)
        reverse[res.query.id] = f"第 {rank} 位" if rank else f"{REVERSE_DEPTH} 名以外"
    rows = [{
        "排名": m.rank,
        "编号": m.target_id,
        "名称": clean(m.record.get(NAME[other])),
        "匹配度": score,
        "共有关键词": "、".join(m.explanation.shared_terms[:5]) if m.explanation else "",
        "对方清单中本条排名": reverse.get(m.target_id, ""),
        "详情": detail_url(other, m.target_id),
    } for m, score in zip(result.matches, degrees)]
    return pd.DataFrame(rows, columns=["排名", "编号", "名称", "匹配度", "共有关键词", "对方清单中本条排名", "详情"])


def _matches(matcher: Matcher, kind: Kind, record_id: str) -> None:
    other = "企业/需求" if kind == Kind.PATENT else "专利"
    k = st.selectbox("匹配结果数", [10, 20, 50], key=keep(state.DETAIL_K, 10), placeholder="请选择…")
    with st.spinner("正在匹配…"):
        table = match_table(matcher, kind, record_id, k)
    st.markdown(f"**最匹配的{other}**（双向：「对方清单中本条排名」为本条在对方自己的匹配清单中的位置）")
    if table.empty:
        st.caption(f"索引中没有可匹配的{other}")
        return
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"详情": st.column_config.LinkColumn("详情", display_text="打开"),
                                "匹配度": st.column_config.NumberColumn("匹配度", help="0–100：该组合被评为相关的估计概率")})


def _tracking(store: TrackingStore, user: User, kind: Kind, record_id: str) -> None:
    side = "patent_id" if kind == Kind.PATENT else "enterprise_id"
    items = [i for i in store.items() if getattr(i, side) == record_id]
    st.markdown(f"**推送跟踪**（{len(items)} 条记录）")
    if not items:
        st.caption("该记录还没有加入推送清单")
        return
    st.dataframe(shortlist_frame(items), hide_index=True, width="stretch")
    for item in items:
        with st.expander(f"记录 #{item.id}：{item.patent_title} ↔ {item.enterprise_name}［{item.status}］"):
            pair_link(item.id)
            history = store.history(item.id)
            st.dataframe(pd.DataFrame([{"时间（北京）": local_time(h.changed_at), "操作人": h.changed_by, "版本": h.version,
                                        "状态": h.to_status, "原因": h.reason or ""} for h in history]),
                         hide_index=True, width="stretch")
            note_thread(store, user, item.id)
