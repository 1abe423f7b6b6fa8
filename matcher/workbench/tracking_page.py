"""推送跟踪: the shortlist of pairs, filtered and exported, and the editor of one pair's outreach status and history."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from matcher.auth import User
from matcher.tracking import REASONS, STATUSES, ConcurrentEditError, Item, TrackingError, TrackingStore, allowed_next
from matcher.workbench import state
from matcher.workbench.batch_actions import batch_actions
from matcher.workbench.frames import local_time, shortlist_frame
from matcher.workbench.guard import callback
from matcher.workbench.inputs import MAX_NAME_CHARS, MAX_NOTE_CHARS, clean_field
from matcher.workbench.item_extras import item_extras
from matcher.workbench.markup import md, md_code
from matcher.workbench.resources import get_store
from matcher.workbench.session import download_buttons, flash, keep, page, require_user, tracking_store, url_pick, url_put


@page
def tracking_page() -> None:
    """The shortlist: filter, export, and move one pair through the statuses with history."""
    user = require_user()
    store = tracking_store()
    st.title("推送跟踪")
    items = store.items()
    st.sidebar.header("筛选推送清单")
    statuses = st.sidebar.multiselect("状态", list(STATUSES), key=keep(state.TRACK_STATUS, []), placeholder="全部",
                                      select_all=False)
    owners = sorted({i.owner for i in items if i.owner})
    chosen_owners = st.sidebar.multiselect("负责人", owners, key=state.TRACK_OWNER, placeholder="全部",
                                                   select_all=False) if owners else []
    needle = st.sidebar.text_input("关键字（专利/企业名称或编号）", key=keep(state.TRACK_SEARCH, "")).strip().lower()
    shown = [
        i for i in items
        if (not statuses or i.status in statuses) and (not chosen_owners or i.owner in chosen_owners)
        and (not needle or needle in f"{i.patent_id} {i.patent_title} {i.enterprise_id} {i.enterprise_name}".lower())
    ]
    st.markdown(f"**推送清单共 {len(items)} 条，当前筛选显示 {len(shown)} 条**")
    if not items:
        st.info("推送清单为空：在「匹配浏览」的匹配卡片上点击「加入推送清单」。")
        return
    frame = shortlist_frame(shown)
    st.dataframe(frame, hide_index=True, width="stretch")
    download_buttons(frame, "推送清单", state.SHORTLIST_EXPORT)
    if not shown:
        st.warning("没有符合筛选条件的记录：请放宽侧栏中的状态、负责人或关键字。")
        return
    batch_actions(store, user, shown)  # 批量操作 (matcher.workbench.batch_actions)
    by_id = {i.id: i for i in shown}
    url_pick(state.TRACK_ITEM, "pair", int)  # ?pair=<record number>: a shared link or a refresh
    keep(state.TRACK_ITEM)
    if st.session_state[state.TRACK_ITEM] not in by_id:
        st.session_state[state.TRACK_ITEM] = next(iter(by_id))
    chosen = st.selectbox("选择记录查看与编辑", list(by_id), key=state.TRACK_ITEM,
                          format_func=lambda i: f"#{i} {by_id[i].patent_title} ↔ {by_id[i].enterprise_name}［{by_id[i].status}］",
                          placeholder="请选择…")
    url_put("pair", chosen)
    if chosen is not None:
        item_editor(store, user, chosen)


def conflict_message(exc: ConcurrentEditError) -> str:
    """The conflict screen's message, in Beijing time."""
    when = f"于 {local_time(exc.changed_at)}（北京时间）" if exc.changed_at else ""
    return (f"该记录已被 {md(exc.changed_by or '其他用户')} {when}修改（您编辑的是第 {exc.expected} 版，当前为第 {exc.current} 版），"
            "您的修改未保存。请点击「重新加载」查看最新内容后再修改；您填写的内容保留在表单下方。")


def _date_text(day: date | None) -> str:
    """A stored date as the edit form shows it (2026-12-10; "" for none)."""
    return day.isoformat() if day else ""


def _parse_date(text: str) -> tuple[date | None, bool]:
    """The next-action date typed in the form: (the date or None when left empty, whether the text is not a date)."""
    text = (text or "").strip().replace("/", "-").replace(".", "-")
    if not text:
        return None, False
    try:
        return date.fromisoformat(text), False
    except ValueError:
        return None, True


def _typed_changes(snap: Item) -> bool:
    """Whether the officer has typed into the edit form of this item version (values differ from the version's)."""
    tag = state.item_tag(snap.id, snap.version)
    shown = {"status": snap.status, "reason": snap.reason or "", "owner": snap.owner or "", "next": _date_text(snap.next_action),
             "note": snap.note or ""}
    for field, value in shown.items():
        key = state.edit_field(field, tag)
        if key in st.session_state and (st.session_state[key] or "") != (value or ""):
            return True
    return False


def _show_unsaved(item_id: int) -> None:
    """What the officer typed in a save refused by a concurrent edit, kept visible until a save succeeds."""
    typed = state.unsaved_edits().get(item_id)
    if not typed:
        return
    st.warning("您上次未能保存的填写（因他人已先修改）仍保留如下，可复制后在最新版本上重新填写：")
    lines = [f"{name}：{value}" for name, value in typed.items() if value]
    st.code("\n".join(lines) or "（无）", language=None, wrap_lines=True)


@callback
def _reload(item_id: int) -> None:
    state.loaded_items()[item_id] = get_store().get(item_id)


def item_editor(store: TrackingStore, user: User, item_id: int) -> None:
    """Details, edit form (editors only) and history of one item.

    The form is filled from the version the officer loaded (kept in the session); saving names that
    version, so a change made meanwhile by someone else is never overwritten.
    """
    loaded: dict[int, Item] = state.loaded_items()
    fresh = store.get(item_id)
    snap = loaded.get(item_id)
    if snap is None or (snap.version != fresh.version and not _typed_changes(snap)):
        snap = loaded[item_id] = fresh  # nothing typed on an older version: show the latest (no stale pane)
    st.subheader(f"记录 #{snap.id}：{md(snap.patent_title)} ↔ {md(snap.enterprise_name)}")
    if fresh.version != snap.version:
        st.warning(f"此记录已被 {md(fresh.updated_by)} 于 {local_time(fresh.updated_at)}（北京时间）修改为第 {fresh.version} 版"
                   f"（您正在看第 {snap.version} 版）。请点击「重新加载」查看最新内容。")
    st.button("重新加载", key=state.reload_item(item_id), on_click=_reload, args=(item_id,))
    st.markdown(
        f"专利 {md_code(snap.patent_id)} · 企业/需求 {md_code(snap.enterprise_id)} · 行业：{md(snap.industry) or '未标注'} · "
        f"匹配度：{'' if snap.score is None else f'{snap.score:.0f}'} · 当前状态：**{md(snap.status)}**"
        + (f"（原因：{md(snap.reason)}）" if snap.reason else "") + f" · 版本：{snap.version}"
    )
    if user.can_edit:
        tag = state.item_tag(snap.id, snap.version)
        options = [snap.status, *allowed_next(snap.status)]
        with st.form(state.edit_form(tag)):
            c1, c2 = st.columns(2)
            status = c1.selectbox("状态", options, key=state.edit_field("status", tag),
                                  help="流程：待推送 → 已推送 → 已回复 → 洽谈中 → 已许可 / 已转让；任一开放阶段可标记已拒绝",
                                  placeholder="请选择…")
            reasons = ["", *REASONS]
            reason = c2.selectbox("拒绝原因（仅「已拒绝」时必填）", reasons, index=reasons.index(snap.reason or ""),
                                  key=state.edit_field("reason", tag), format_func=lambda r: r or "—", placeholder="请选择…")
            c3, c4 = st.columns(2)
            owner = c3.text_input("负责人", value=snap.owner, key=state.edit_field("owner", tag), max_chars=MAX_NAME_CHARS,
                                  placeholder="如：李老师")
            # a text box, not st.date_input: an empty date box shows its format in English (yyyy/mm/dd)
            next_text = c4.text_input("下次跟进日期（可留空）", value=_date_text(snap.next_action),
                                      key=state.edit_field("next", tag), max_chars=10, placeholder="如：2026-12-10")
            note = st.text_area("备注", value=snap.note, key=state.edit_field("note", tag), max_chars=MAX_NOTE_CHARS,
                                placeholder="如：企业技术总监回复，约下周面谈")
            submitted = st.form_submit_button("保存修改", type="primary")
        next_action, bad_date = _parse_date(next_text)
        if submitted and bad_date:
            st.error(f"下次跟进日期应写成 年-月-日，如 2026-12-10（您填写的是「{md(next_text)}」），修改未保存。")
        elif submitted:
            try:
                new = store.update(snap.id, snap.version, user=user, status=status, reason=reason or None,
                                   owner=clean_field(owner, MAX_NAME_CHARS), note=clean_field(note, MAX_NOTE_CHARS),
                                   next_action=next_action)
                loaded[item_id] = new
                state.unsaved_edits().pop(item_id, None)
                flash("success", f"已保存：记录 #{new.id} 现为「{md(new.status)}」（第 {new.version} 版）")
                st.rerun()
            except ConcurrentEditError as exc:
                state.unsaved_edits()[item_id] = {"状态": status, "拒绝原因": reason, "负责人": owner,
                                                  "下次跟进": next_text,
                                                  "备注": note}
                st.error(conflict_message(exc))
            except TrackingError as exc:
                st.error(md(exc))
        _show_unsaved(item_id)
    else:
        st.info("只读账号：可以查看和导出，不能修改跟踪状态。")
        st.markdown(f"负责人：{md(snap.owner) or '未指定'} · 下次跟进：{md(snap.next_action) or '—'}  \n备注：{md(snap.note) or '—'}")
    history = store.history(item_id)
    st.markdown("**变更历史**")
    st.dataframe(pd.DataFrame([{
        "时间（北京时间）": local_time(h.changed_at), "操作人": f"{h.changed_by}（{h.changed_by_login}）" if h.changed_by_login else h.changed_by, "版本": h.version,
        "状态": f"{h.from_status} → {h.to_status}" if h.from_status and h.from_status != h.to_status else h.to_status,
        "原因": h.reason or "", "修改内容": _describe(h.changes),
    } for h in history]), hide_index=True, width="stretch")
    item_extras(store, user, item_id)  # detail links, 推送函, 备注记录 (matcher.workbench.item_extras)


_FIELD_NAMES = {"status": "状态", "reason": "原因", "owner": "负责人", "note": "备注", "next_action": "下次跟进"}


def _describe(changes: dict) -> str:
    if changes.get("created"):
        return "加入推送清单"
    return "；".join(f"{_FIELD_NAMES.get(k, k)}：{v[0] or '—'} → {v[1] or '—'}" for k, v in changes.items())
