"""批量操作 on 推送跟踪: pick several records and change their status or owner at once, each change versioned."""

from __future__ import annotations

import streamlit as st

from matcher.auth import User
from matcher.tracking import REASONS, REJECTED, STATUSES, Item, TrackingStore, update_many
from matcher.workbench import state
from matcher.workbench.markup import md

KEEP = "（不改）"


def batch_actions(store: TrackingStore, user: User, shown: list[Item]) -> None:
    """The batch form over the records shown (editors only).

    Each record is changed with the version that was on screen when the officer picked it, so a record someone else
    changed meanwhile is refused (and named) while the others are saved; every change is a new version in its history.
    """
    if not user.can_edit or not shown:
        return
    seen: dict[int, int] = st.session_state.setdefault(state.BULK_SEEN, {})
    by_id = {i.id: i for i in shown}
    with st.expander("批量操作：一次修改多条记录的状态或负责人", expanded=False), st.form(state.BULK_FORM):
        picked = st.multiselect("选择记录（可多选）", list(by_id), key=state.BULK_PICK, placeholder="请选择记录…",
                                format_func=lambda i: f"#{i} {by_id[i].patent_title} ↔ {by_id[i].enterprise_name}［{by_id[i].status}］")
        every = st.checkbox(f"选中当前筛选出的全部 {len(by_id)} 条", key=state.BULK_ALL)
        c1, c2, c3 = st.columns(3)
        status = c1.selectbox("改为状态", [KEEP, *STATUSES], key=state.BULK_STATUS, placeholder="请选择…")
        reason = c2.selectbox("拒绝原因（改为「已拒绝」时必填）", ["", *REASONS], key=state.BULK_REASON, placeholder="请选择…",
                              format_func=lambda r: r or "—")
        owner = c3.text_input("改为负责人（留空则不改）", key=state.BULK_OWNER, max_chars=100)
        submitted = st.form_submit_button("批量保存", type="primary")
    if submitted:
        ids = list(by_id) if every else picked
        if not ids:
            st.warning("请先选择记录")
        elif status == KEEP and not owner.strip():
            st.warning("请选择新状态或填写新负责人")
        else:
            loaded = [(i, seen.get(i, by_id[i].version)) for i in ids]
            outcome = update_many(store, loaded, user=user, status=None if status == KEEP else status,
                                  owner=owner.strip() or None, reason=(reason or None) if status == REJECTED else None)
            _report(outcome.changed, outcome.unchanged, outcome.failed)
            seen.clear()
            st.rerun()
    seen.update({i.id: i.version for i in shown})


def _report(changed: list[Item], unchanged: list[Item], failed: list[tuple[int, str]]) -> None:
    if changed:
        state.flash("success", f"已批量修改 {len(changed)} 条记录：" + "、".join(f"#{i.id}（第 {i.version} 版）" for i in changed))
    if unchanged:
        state.flash("info", f"{len(unchanged)} 条记录原本就是所选状态和负责人，未产生新版本")
    for item_id, message in failed:
        state.flash("error", f"记录 #{item_id} 未修改：{md(message)}")
