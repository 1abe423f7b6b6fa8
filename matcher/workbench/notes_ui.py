"""A tracking record's note thread on screen: every note with its author and Beijing time, and a box to add one."""

from __future__ import annotations

import streamlit as st

from matcher.auth import User
from matcher.errors import MatcherError
from matcher.tracking import MAX_NOTE_CHARS, TrackingStore, add_note, notes
from matcher.workbench import state
from matcher.workbench.frames import local_time
from matcher.workbench.markup import md


def note_thread(store: TrackingStore, user: User, item_id: int) -> None:
    """Show a record's notes, oldest first; editors may add one (it never conflicts with an edit of the record)."""
    thread = notes(store, item_id)
    st.markdown(f"**备注记录**（共 {len(thread)} 条）")
    for note in thread:
        st.markdown(f"<div class='mw-sent'>{md(local_time(note.created_at))}（北京时间）· {md(note.author)}：{md(note.body)}</div>",
                    unsafe_allow_html=True)
    if not thread:
        st.caption("暂无备注")
    if not user.can_edit:
        return
    with st.form(state.note_form(item_id), clear_on_submit=True):
        body = st.text_area("添加备注", key=state.note_input(item_id), max_chars=MAX_NOTE_CHARS, height=80,
                            placeholder="例如：已电话联系企业负责人，对方希望先看样品")
        submitted = st.form_submit_button("保存备注")
    if submitted:
        try:
            add_note(store, item_id, body, user=user)
            state.flash("success", f"已为记录 #{item_id} 添加备注")
            st.rerun()
        except MatcherError as exc:
            st.error(md(exc))
