"""推送函 page: pick shortlisted pairs (or come with `?pair=ID`), edit the template, download the letters as DOCX."""

from __future__ import annotations

import streamlit as st

from matcher.workbench import state
from matcher.workbench.letter import (
    DOCX_MIME,
    PLACEHOLDERS,
    build_docx,
    default_template,
    letter_fields,
    office_contact,
)
from matcher.workbench.links import PAIR_PARAM
from matcher.workbench.markup import md
from matcher.workbench.session import engine, keep, page, require_user, tracking_store

MAX_LETTERS = 50


@page
def letter_page() -> None:
    """Letters for one pair or several pairs of the shortlist, from an editable template."""
    require_user()
    matcher, store = engine(), tracking_store()
    st.title("推送函")
    items = store.items()
    if not items:
        st.info("推送清单为空：先在「匹配浏览」中把组合加入推送清单，再生成推送函。")
        return
    by_id = {i.id: i for i in items}
    keep(state.LETTER_ITEMS, [])
    wanted = st.query_params.get(PAIR_PARAM)
    if wanted and wanted.isdigit() and int(wanted) in by_id and not st.session_state[state.LETTER_ITEMS]:
        st.session_state[state.LETTER_ITEMS] = [int(wanted)]
    st.session_state[state.LETTER_ITEMS] = [i for i in st.session_state[state.LETTER_ITEMS] if i in by_id]
    chosen = st.multiselect(f"选择推送清单中的组合（每份一页，最多 {MAX_LETTERS} 份）", list(by_id), key=state.LETTER_ITEMS,
                            max_selections=MAX_LETTERS, placeholder="请选择组合…",
                            format_func=lambda i: f"#{i} {by_id[i].patent_title} ↔ {by_id[i].enterprise_name}［{by_id[i].status}］")
    keep(state.LETTER_CONTACT, office_contact())
    contact = st.text_input("办公室联系方式（印在每份推送函中）", key=state.LETTER_CONTACT, max_chars=300,
                            placeholder="例如：某某大学技术转移中心 张老师 010-12345678", help="默认值来自环境变量 MATCHER_OFFICE_CONTACT")
    keep(state.LETTER_TEMPLATE, default_template())
    template = st.text_area("推送函模板（可直接修改；花括号中的占位符会被替换）", key=state.LETTER_TEMPLATE, height=360,
                            max_chars=20_000)
    st.caption("可用占位符：" + "、".join(f"{{{p}}}" for p in PLACEHOLDERS))
    if not chosen:
        st.info("请选择至少一个组合")
        return
    wanted = (tuple(chosen), template, contact.strip())
    built = st.session_state.get(state.LETTER_BUILT)
    if st.button(f"生成推送函（{len(chosen)} 份）", key=state.LETTER_BUILD, type="primary"):
        with st.spinner("正在生成推送函…"):
            letters = [letter_fields(matcher, store, by_id[i], contact.strip()) for i in chosen]
            built = st.session_state[state.LETTER_BUILT] = (wanted, build_docx(letters, template), letters[0]["匹配理由"])
    if not built or built[0] != wanted:  # built only when asked, and only for what is on screen now
        st.caption("选择组合、修改模板后点击「生成推送函」")
        return
    st.markdown(f"**第一份的推荐理由**：{md(built[2])}")
    name = f"推送函_{by_id[chosen[0]].patent_id}.docx" if len(chosen) == 1 else f"推送函_{len(chosen)}份.docx"
    st.download_button(f"下载推送函（DOCX，{len(chosen)} 份）", built[1], file_name=name, mime=DOCX_MIME,
                       key=state.LETTER_DOWNLOAD)
