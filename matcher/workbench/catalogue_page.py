"""需求目录: the demand catalogue (专利需求信息目录) by sector, each demand's best patents and its coverage verdict, the
unanswered demands for universities, and the workbook with its cover sheet (matcher.office.catalogue)."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from matcher.engine import Matcher
from matcher.office.catalogue import (
    COVERAGE_ORDER,
    DEMAND_HEADERS,
    NONE,
    PAIR_HEADERS,
    build_catalogue,
    catalogue_cover,
    catalogue_sheets,
)
from matcher.office.demands import demand_mask
from matcher.office.sectors import sector_labels
from matcher.office.workbook import officer_table, write_workbook
from matcher.schema import Kind
from matcher.workbench import state
from matcher.workbench.export import XLSX_MIME
from matcher.workbench.resources import index_dir
from matcher.workbench.session import download_buttons, engine, keep, page

ALL = "全部领域"


@st.cache_data(show_spinner="正在识别需求的产业领域…", max_entries=4)
def demand_sectors(_matcher: Matcher, index_key: str) -> pd.DataFrame:  # noqa: ARG001 - index_key: cache key
    """The demands of the index with their sector: columns id, sector."""
    records = _matcher.collection(Kind.ENTERPRISE).records
    demands = records[demand_mask(records)]
    return pd.DataFrame({"id": demands["id"].tolist(), "sector": sector_labels(demands).tolist()})


@st.cache_data(show_spinner="正在为需求匹配专利…", max_entries=16)
def sector_catalogue(_matcher: Matcher, index_key: str, ids: tuple[str, ...], k: int):  # noqa: ARG001
    """The catalogue of some demands (cached per index, demand set and k)."""
    return build_catalogue(_matcher, k=k, demand_ids=list(ids))


def workbook_bytes(cat) -> bytes:
    """The catalogue's XLSX (cover sheet first)."""
    buf = io.BytesIO()
    write_workbook(buf, "专利需求信息目录", catalogue_cover(cat, "工作台"), catalogue_sheets(cat))
    return buf.getvalue()


@page
def catalogue_page() -> None:
    """The demand catalogue of one sector (or all): coverage counts, demands, best patents, unanswered demands."""
    matcher = engine()
    st.title("专利需求信息目录")
    if not matcher.has(Kind.ENTERPRISE) or not matcher.has(Kind.PATENT):
        st.info("索引中需要同时有专利和企业需求。")
        return
    key = f"{index_dir()}:{matcher.count(Kind.PATENT)}:{matcher.count(Kind.ENTERPRISE)}"
    sectors = demand_sectors(matcher, key)
    if sectors.empty:
        st.info("索引中没有企业技术需求（需求：无注册资本、名称不是企业名称的记录）。")
        return
    counts = sectors["sector"].value_counts()
    options = [ALL, *counts.index.tolist()]
    keep(state.CAT_SECTOR, counts.index[0])
    if st.session_state[state.CAT_SECTOR] not in options:
        st.session_state[state.CAT_SECTOR] = counts.index[0]
    sector = st.sidebar.selectbox("产业领域", options, key=state.CAT_SECTOR,
                                  format_func=lambda s: s if s == ALL else f"{s}（{counts[s]} 项需求）", placeholder="请选择…")
    k = st.sidebar.selectbox("每项需求列出的专利数", [3, 5, 10], key=keep(state.CAT_K, 5), placeholder="请选择…")
    chosen = sectors if sector == ALL else sectors[sectors["sector"] == sector]
    cat = sector_catalogue(matcher, key, tuple(chosen["id"]), k)
    coverage = st.sidebar.multiselect("满足程度", list(COVERAGE_ORDER), key=keep(state.CAT_COVERAGE, []),
                                      placeholder="不限")
    only_fit = st.sidebar.checkbox("只看许可方式契合的专利", key=keep(state.CAT_FIT, False))
    found = cat.demands["coverage"].value_counts()
    cols = st.columns(len(COVERAGE_ORDER) + 1)
    cols[0].metric("需求", len(cat.demands))
    for col, name in zip(cols[1:], COVERAGE_ORDER):
        col.metric(name, int(found.get(name, 0)))
    st.caption(f"判定方法：{'置信度模型' if cat.method.startswith('confidence') else '本库匹配分分布（相对分级）'}。"
               "「无合适专利」的需求列在下方，供高校和科研院所研发参考。")
    demands = cat.demands if not coverage else cat.demands[cat.demands["coverage"].isin(coverage)]
    shown = officer_table(demands.drop(columns=["text"]), DEMAND_HEADERS)
    st.subheader("需求目录")
    st.dataframe(shown, hide_index=True, width="stretch")
    pairs = cat.pairs[cat.pairs["demand_id"].isin(demands["demand_id"])]
    if only_fit:
        pairs = pairs[pairs["licence_fit"] == "契合"]
    st.subheader("各需求的最佳专利")
    st.dataframe(officer_table(pairs, PAIR_HEADERS), hide_index=True, width="stretch")
    st.subheader("待攻关需求（无合适专利）")
    unanswered = cat.unanswered()
    if unanswered.empty:
        st.caption("本领域的需求在专利库中都有相关专利。")
    else:
        st.dataframe(officer_table(unanswered, DEMAND_HEADERS), hide_index=True, width="stretch")
        st.caption(f"{len(unanswered)} 项需求在现有专利库中没有合适专利：{NONE}。")
    book_key = state.download(state.CAT_EXPORT, "book")
    if st.button("生成需求目录工作簿（XLSX，含封面）", key=state.download(state.CAT_EXPORT, "make_book")):
        st.session_state[book_key] = (tuple(cat.demands["demand_id"]), workbook_bytes(cat))
    made = st.session_state.get(book_key)
    if made is not None and made[0] == tuple(cat.demands["demand_id"]):
        st.download_button("下载需求目录（XLSX，含封面）", made[1], file_name="专利需求信息目录.xlsx", mime=XLSX_MIME,
                           key=state.download(state.CAT_EXPORT, "book_download"))
    download_buttons(shown, "需求目录", state.CAT_EXPORT)
