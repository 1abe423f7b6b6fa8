"""专利盘点: the indexed stock per applicant, 门类 and tier, with the duplicates merged and the patents never pushed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.errors import NotBuiltError
from matcher.grading import grade_patents, read_grades
from matcher.grading.inventory import COUNT_COLUMNS, Inventory, take_inventory
from matcher.grading.stock import read_stock
from matcher.index.atomic import readable_dir
from matcher.workbench.resources import index_dir
from matcher.workbench.session import page, require_user, tracking_store
from matcher.workbench.state import INVENTORY_TIERS

LABELS = {"applicant": "申请人", "applicant_type": "类型", "section": "门类", "tier": "分级", "patents": "专利",
          "alive": "有效", "not_pushable": "不可推送", "pushed": "已推送", "success": "许可/转让", "rejected": "被拒",
          "id": "编号", "title": "名称", "reason": "原因", "duplicate_of": "重复于", "rule": "合并规则"}


def _stamp(directory) -> str:
    """A cache key that changes when the index or its grades are replaced."""
    source = readable_dir(directory)
    parts = [source / "patent" / "records.parquet", source / "grades.parquet"]
    return ":".join(f"{p.stat().st_mtime_ns}" if p.is_file() else "-" for p in parts)


@st.cache_data(show_spinner="正在盘点…", max_entries=4)
def stock_and_grades(directory: str, stamp: str) -> tuple[pd.DataFrame, pd.DataFrame, bool]:  # noqa: ARG001 - stamp: cache key
    """The index's patents and their grades (stored ones when they cover the index; else graded without models)."""
    patents, _ = read_stock(directory)
    try:
        grades = read_grades(directory)
        if set(grades["id"]) == set(patents["id"]):
            return patents, grades, True
    except NotBuiltError:
        pass
    return patents, grade_patents(patents), False


def _table(frame: pd.DataFrame) -> None:
    st.dataframe(frame.rename(columns=LABELS), hide_index=True, width="stretch")


def _metrics(stock: Inventory) -> None:
    t = stock.totals
    cells = st.columns(6)
    for cell, (label, value) in zip(cells, (("记录", t["records"]), ("合并重复", t["duplicates"]), ("专利", t["patents"]),
                                            ("有效", t["alive"]), ("不可推送", t["not_pushable"]), ("已推送", t["pushed"]))):
        cell.metric(label, f"{value:,}")


@page
def inventory_page() -> None:
    """Metrics, then one table per view: by applicant, by 门类, by tier, duplicates merged, patents not pushable
    (a tier filter narrows them all)."""
    require_user()
    st.title("专利盘点")
    patents, grades, stored = stock_and_grades(str(index_dir()), _stamp(index_dir()))
    st.caption("分级来自与索引一同保存的分级表" if stored else
               "未找到与索引一致的分级表：成熟度、门类与分级按输入字段、IPC 与规则估计（请管理员为索引生成分级表，即可使用模型分级）")
    outcomes = tracking_store().frame().to_dict("records")
    tiers = st.multiselect("分级", sorted(grades["tier"].unique()), key=INVENTORY_TIERS, placeholder="全部分级")
    if tiers:  # count only the patents of the chosen tiers
        ids = set(grades.loc[grades["tier"].isin(tiers), "id"])
        patents, grades = patents[patents["id"].isin(ids)], grades[grades["id"].isin(ids)]
    stock = take_inventory(patents, grades, outcomes)
    _metrics(stock)
    tabs = st.tabs(["按申请人", "按门类", "按分级", "重复记录", "不可推送"])
    with tabs[0]:
        _table(stock.by_applicant[["applicant", "applicant_type", *COUNT_COLUMNS]])
    with tabs[1]:
        _table(stock.by_sector[["section", *COUNT_COLUMNS]])
    with tabs[2]:
        _table(stock.by_tier[["tier", *COUNT_COLUMNS]])
    with tabs[3]:
        if stock.duplicates.empty:
            st.info("没有重复记录")
        else:
            _table(stock.duplicates)
    with tabs[4]:
        if stock.not_pushable.empty:
            st.info("没有不可推送的专利")
        else:
            _table(stock.not_pushable)
