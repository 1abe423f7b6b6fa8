"""总览: the outreach funnel, statuses by industry, reply times and how the matches spread over industries."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.engine import Matcher
from matcher.schema import Kind
from matcher.tracking import major_industry
from matcher.workbench import charts, state
from matcher.workbench.degree import grade
from matcher.workbench.resources import index_dir
from matcher.workbench.session import engine, keep, page, require_user, tracking_store
from matcher.workbench.todo_page import overdue_notice

OVERVIEW_MAX_QUERIES = 2000  # enterprises / demands ranked for the overview charts (cached per index)
MATCH_COLUMNS = ["enterprise_id", "patent_id", "degree", "industry"]


@st.cache_data(show_spinner="正在计算总览…", max_entries=8)
def overview_matches(_matcher: Matcher, index_key: str, k: int) -> pd.DataFrame:  # noqa: ARG001 - index_key: cache key
    """The top-k patents of every enterprise / demand: columns enterprise_id, patent_id, degree (匹配度), industry."""
    ids = _matcher.collection(Kind.ENTERPRISE).ids[:OVERVIEW_MAX_QUERIES]
    if not ids or not _matcher.has(Kind.PATENT):
        return pd.DataFrame(columns=MATCH_COLUMNS)
    results = _matcher.search([_matcher.query_for(Kind.ENTERPRISE, i) for i in ids], Kind.PATENT, k=k, explain=False)
    rows = [{"enterprise_id": r.query.id, "patent_id": m.target_id, "degree": d,
             "industry": major_industry(m.record.get("industry"))}
            for r in results for m, d in zip(r.matches, grade(_matcher, r).degrees)]
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


@page
def overview_page() -> None:
    """Charts: matches per industry, score distribution, outreach funnel by status and industry, reply times."""
    require_user()
    matcher, store = engine(), tracking_store()
    st.title("总览")
    k = st.sidebar.selectbox("每个企业/需求取前 K 名专利", [3, 5, 10, 20], key=keep(state.OVERVIEW_K, 5), placeholder="请选择…")
    patents, enterprises = matcher.count(Kind.PATENT), matcher.count(Kind.ENTERPRISE)
    items = store.frame()
    deals = int(items["status"].isin(["已许可", "已转让"]).sum()) if not items.empty else 0
    c = st.columns(4)
    c[0].metric("专利", patents)
    c[1].metric("企业/需求", enterprises)
    c[2].metric("推送清单", len(items))
    c[3].metric("已许可/已转让", deals)
    overdue_notice(store)  # 逾期待办 (matcher.workbench.todo_page)
    matches = overview_matches(matcher, f"{index_dir()}:{patents}:{enterprises}", k) if enterprises and patents else pd.DataFrame(
        columns=MATCH_COLUMNS)
    if enterprises > OVERVIEW_MAX_QUERIES:
        st.caption(f"匹配统计基于前 {OVERVIEW_MAX_QUERIES} 个企业/需求（共 {enterprises} 个）")
    left, right = st.columns(2)
    left.plotly_chart(charts.matches_per_industry(matches), key=state.CHART_INDUSTRY)
    right.plotly_chart(charts.score_distribution(matches), key=state.CHART_SCORES)
    left, right = st.columns(2)
    left.plotly_chart(charts.funnel(store.funnel()), key=state.CHART_FUNNEL)
    right.plotly_chart(charts.status_by_industry(store.status_by_industry()), key=state.CHART_STATUS_INDUSTRY)
    times = store.reply_times()
    if not times.empty:
        st.caption(f"已回复 {len(times)} 条，推送到回复中位数 {times['days'].median():.1f} 天")
    st.plotly_chart(charts.reply_times(times), key=state.CHART_REPLY)
