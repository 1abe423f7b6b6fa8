"""Plotly figures of the overview page (built from plain frames, so they can be tested without a browser)."""

from __future__ import annotations

import html

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from matcher.tracking import STATUSES

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=340, font=dict(family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"))


def _plain(values: pd.Series) -> pd.Series:
    """Data labels as plotly text: its HTML-like tags (<a href>, <b>, <br>) in a name are shown, never applied."""
    return values.astype(str).map(html.escape)


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False, **_LAYOUT)
    return fig


EMPTY = "暂无数据"


def matches_per_industry(matches: pd.DataFrame) -> go.Figure:
    """Bar chart: matched pairs per patent industry (frame with column 'industry')."""
    title = "各行业匹配数（每个企业/需求的前 K 名专利）"
    if matches.empty:
        return _empty(title, EMPTY)
    counts = matches.groupby("industry").size().reset_index(name="匹配数").sort_values("匹配数", ascending=False)
    counts["industry"] = _plain(counts["industry"])
    fig = px.bar(counts, x="industry", y="匹配数", title=title, labels={"industry": "专利行业"})
    fig.update_layout(**_LAYOUT)
    return fig


def score_distribution(matches: pd.DataFrame) -> go.Figure:
    """Histogram of the 匹配度 (0-100, bins of 5; frame with column 'degree')."""
    title = "匹配度分布（0–100）"
    if matches.empty:
        return _empty(title, EMPTY)
    fig = go.Figure(go.Histogram(x=matches["degree"], xbins=dict(start=0, end=100, size=5), name="匹配对数",
                                 hovertemplate="匹配度 %{x}：%{y} 对<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="匹配度", yaxis_title="匹配对数", **_LAYOUT)
    fig.update_xaxes(range=[0, 100], dtick=10)
    return fig


def funnel(stages: pd.DataFrame) -> go.Figure:
    """Outreach funnel: how many shortlisted pairs reached each stage (columns stage, count)."""
    title = "推送漏斗（到达各阶段的记录数）"
    if stages.empty or int(stages["count"].sum()) == 0:
        return _empty(title, f"{EMPTY}（推送清单为空）")
    fig = go.Figure(go.Funnel(y=stages["stage"], x=stages["count"], textinfo="value+percent initial"))
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def status_by_industry(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: current status of the shortlist per industry (columns industry, status, count)."""
    title = "各行业推送状态"
    if frame.empty:
        return _empty(title, f"{EMPTY}（推送清单为空）")
    data = frame.copy()
    data["status"] = data["status"].astype(str)
    data["industry"] = _plain(data["industry"])
    fig = px.bar(data, x="industry", y="count", color="status", title=title, barmode="stack",
                 category_orders={"status": list(STATUSES)}, labels={"industry": "行业", "count": "记录数", "status": "状态"})
    fig.update_layout(**_LAYOUT)
    return fig


def reply_times(frame: pd.DataFrame) -> go.Figure:
    """Histogram of days from push to reply (columns days, industry)."""
    title = "推送到回复的天数"
    if frame.empty:
        return _empty(title, f"{EMPTY}（尚无已回复的记录）")
    days = pd.to_numeric(frame["days"], errors="coerce").clip(lower=0)
    width = max(1, int(days.max() // 20) + 1)  # whole days per bar, at most about 20 bars
    fig = px.histogram(frame.assign(days=days, industry=_plain(frame["industry"])), x="days", color="industry",
                       title=title, labels={"days": "推送到回复的天数", "industry": "行业"})
    fig.update_traces(xbins=dict(start=0, end=float(days.max()) + width, size=width))
    fig.update_layout(yaxis_title="记录数", **_LAYOUT)
    fig.update_xaxes(range=[0, float(days.max()) + width], rangemode="nonnegative")
    fig.update_yaxes(rangemode="nonnegative", dtick=1 if len(frame) <= 10 else None)
    return fig


def most_listed(frame: pd.DataFrame, target_label: str) -> go.Figure:
    """Horizontal bars: the targets in the most nightly lists (columns 名称, 编号, 出现清单数; most first)."""
    title = f"出现在最多清单中的{target_label}"
    if frame.empty:
        return _empty(title, EMPTY)
    data = frame.assign(标签=_plain(pd.Series([f"{n[:18]}（{i}）" for n, i in zip(frame["名称"], frame["编号"])], index=frame.index)))
    fig = px.bar(data.iloc[::-1], x="出现清单数", y="标签", orientation="h", title=title, labels={"标签": target_label})
    fig.update_layout(**{**_LAYOUT, "height": max(340, 24 * len(data) + 80)})
    return fig
