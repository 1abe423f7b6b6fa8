"""A patent's licence terms on its detail page: the current ones, an editor's form, and every version."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.auth import User
from matcher.errors import MatcherError
from matcher.schema import Kind
from matcher.tracking import LICENCE_MODES, MATURITY_LEVELS, TrackingStore, current_terms, set_terms, terms_history
from matcher.workbench import state
from matcher.workbench.frames import clean, local_time
from matcher.workbench.index_writes import update_fields
from matcher.workbench.markup import md

LABELS = {"license_mode": "许可方式", "price": "价格", "maturity": "成熟度"}


def terms_section(store: TrackingStore, user: User, patent_id: str, record: dict) -> None:
    """Show the patent's terms (those set here, else the imported ones); editors change them with history.

    A save is a new version in the tracking database (refused when another editor saved meanwhile) and is written
    into the index at once, so the filters, cards, tables and exports use it.
    """
    saved = current_terms(store, [patent_id]).get(patent_id)
    shown = saved.values() if saved else {f: clean(record.get(f)) for f in LABELS}
    source = f"第 {saved.version} 版，{md(saved.changed_by)} 于 {local_time(saved.changed_at)}（北京时间）设定" if saved else "导入数据"
    st.markdown("**许可条款**：" + " · ".join(f"{label}：{md(shown[f]) or '未设定'}" for f, label in LABELS.items())
                + f"（{source}）")
    if user.can_edit:
        version = saved.version if saved else 0
        tag = state.terms_tag(patent_id, version)
        modes, levels = ["", *LICENCE_MODES], ["", *MATURITY_LEVELS]
        with st.expander("修改许可条款", expanded=False), st.form(state.terms_form(tag)):
            c1, c2, c3 = st.columns(3)
            mode = c1.selectbox("许可方式", modes, index=_index(modes, shown["license_mode"]), key=state.terms_field("mode", tag), placeholder="请选择…",
                                format_func=lambda v: v or "未设定")
            price = c2.text_input("价格", value=shown["price"], max_chars=100, key=state.terms_field("price", tag),
                                  placeholder="例如：8万元 / 面议")
            level = c3.selectbox("成熟度", levels, index=_index(levels, shown["maturity"]), key=state.terms_field("level", tag), placeholder="请选择…",
                                 format_func=lambda v: v or "未设定")
            if shown["maturity"] and shown["maturity"] not in levels:
                st.caption(f"导入数据中的成熟度为「{md(shown['maturity'])}」，请选择对应的等级")
            submitted = st.form_submit_button("保存条款", type="primary")
        if submitted:
            _save(store, user, patent_id, version, mode, price, level)
    history = terms_history(store, patent_id)
    if history:
        with st.expander(f"条款修改历史（{len(history)} 版）"):
            st.dataframe(pd.DataFrame([{"版本": t.version, "时间（北京）": local_time(t.changed_at), "修改人": t.changed_by,
                                        "许可方式": t.license_mode, "价格": t.price, "成熟度": t.maturity} for t in history]),
                         hide_index=True, width="stretch")


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


def _save(store: TrackingStore, user: User, patent_id: str, version: int, mode: str, price: str, level: str) -> None:
    try:
        terms = set_terms(store, patent_id, version, user=user, license_mode=mode, price=price, maturity=level)
    except MatcherError as exc:
        st.error(md(exc))
        return
    try:
        with st.spinner("正在把新条款写入索引…"):
            update_fields(Kind.PATENT, patent_id, terms.values())
    except MatcherError as exc:
        state.flash("warning", f"条款已保存（第 {terms.version} 版），但写入索引失败，筛选与导出暂未更新：{md(exc)}")
    else:
        state.flash("success", f"已保存专利 {md(patent_id)} 的许可条款（第 {terms.version} 版），筛选与导出已使用新条款")
    st.rerun()
