"""待办: open pairs whose next-action date is due this week or overdue, most overdue first, with their owner."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.schema import Kind
from matcher.tracking import Item, TrackingStore, beijing_today, due_items, overdue_count, week_end
from matcher.workbench import state
from matcher.workbench.links import detail_url
from matcher.workbench.session import keep, page, require_user, tracking_store

TODO_FILE = "matcher/workbench/page_files/todo.py"
COLUMNS = ["记录号", "下次跟进", "逾期天数", "状态", "负责人", "专利号", "专利名称", "企业/需求编号", "企业/需求名称", "专利详情",
           "企业详情"]
OVERDUE_STYLE = "background-color: #fee2e2; color: #991b1b"


def todo_frame(items: list[Item], today) -> pd.DataFrame:
    """The follow-up table (逾期天数 > 0: overdue; 0: due today; empty: later this week)."""
    rows = [{
        "记录号": i.id, "下次跟进": i.next_action.isoformat(),
        "逾期天数": (today - i.next_action).days if i.next_action <= today else None,
        "状态": i.status, "负责人": i.owner or "未指定", "专利号": i.patent_id, "专利名称": i.patent_title,
        "企业/需求编号": i.enterprise_id, "企业/需求名称": i.enterprise_name,
        "专利详情": detail_url(Kind.PATENT, i.patent_id), "企业详情": detail_url(Kind.ENTERPRISE, i.enterprise_id),
    } for i in items]
    return pd.DataFrame(rows, columns=COLUMNS)


def _highlight(row: pd.Series) -> list[str]:
    overdue = pd.notna(row["逾期天数"]) and row["逾期天数"] > 0
    return [OVERDUE_STYLE if overdue else ""] * len(row)


@page
def todo_page() -> None:
    """This week's and overdue follow-ups, filtered by owner."""
    user = require_user()
    store = tracking_store()
    st.title("待办")
    today = beijing_today()
    items = due_items(store, today)
    st.caption(f"今天是 {today.isoformat()}（北京时间）；列出下次跟进日期在本周日（{week_end(today).isoformat()}）之前、"
               "尚未结束（已许可/已转让/已拒绝除外）的组合，逾期的排在最前并标红。下次跟进日期在「推送跟踪」中设置。")
    owners = sorted({i.owner or "未指定" for i in items})
    keep(state.TODO_OWNER, [])
    st.session_state[state.TODO_OWNER] = [o for o in st.session_state[state.TODO_OWNER] if o in owners]
    chosen = st.multiselect("负责人", owners, key=state.TODO_OWNER, placeholder="全部负责人")
    if user.name in owners and not chosen:
        st.caption(f"提示：选择「{user.name}」只看自己负责的待办")
    shown = [i for i in items if not chosen or (i.owner or "未指定") in chosen]
    overdue = sum(1 for i in shown if i.next_action < today)
    c = st.columns(3)
    c[0].metric("逾期", overdue)
    c[1].metric("今天到期", sum(1 for i in shown if i.next_action == today))
    c[2].metric("本周稍后到期", sum(1 for i in shown if i.next_action > today))
    if not shown:
        st.success("本周没有到期或逾期的待办。" if not items else "所选负责人本周没有到期或逾期的待办。")
        return
    frame = todo_frame(shown, today)
    link = {"display_text": "打开"}
    st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch",
                 column_config={"专利详情": st.column_config.LinkColumn("专利详情", **link),
                                "企业详情": st.column_config.LinkColumn("企业详情", **link),
                                "逾期天数": st.column_config.NumberColumn("逾期天数", help="空白：本周稍后到期")})


def overdue_notice(store: TrackingStore) -> None:
    """The overview's count of overdue follow-ups with a link to 待办."""
    count = overdue_count(store)
    c1, c2 = st.columns([1, 3])
    c1.metric("逾期待办", count)
    if count:
        c2.page_link(TODO_FILE, label=f"有 {count} 条跟进已逾期，查看待办", icon=":material/alarm:")
