"""数据上传: an editor uploads a CSV / XLSX of patents or enterprises / demands; validated, previewed, then indexed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.errors import InputError, MatcherError
from matcher.schema import Kind
from matcher.workbench import state
from matcher.workbench.markup import md
from matcher.workbench.session import engine, page, require_user
from matcher.workbench.upload import TYPES, UploadPreview, apply, preview, read_upload

KINDS = {"patent": "专利", "enterprise": "企业/需求"}
PREVIEW_ROWS = 50


def uploader_in_chinese(limit_mb: int) -> str:
    """CSS that replaces the English Streamlit draws inside st.file_uploader (its "Upload" button and "200MB per file
    • CSV" line; Streamlit has no setting for them) with Chinese; the icon and the file dialog are unchanged."""
    kinds = "、".join(t.upper() for t in TYPES)
    return ("<style>"
            '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {display: none;}'
            '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {content: "选择文件";}'
            '[data-testid="stFileUploaderDropzoneInstructions"] span {display: none;}'
            '[data-testid="stFileUploaderDropzoneInstructions"] > div::after '
            f'{{content: "可拖放文件到此处；单个文件不超过 {limit_mb} MB，格式：{kinds}";}}'
            "</style>")


@page
def upload_page() -> None:
    """Upload, validate, preview and upsert a table of records (editors only)."""
    user = require_user()
    st.title("数据上传")
    if not user.can_edit:
        st.info("只读账号不能上传数据；如需上传，请联系管理员开通编辑权限。")
        return
    for line in st.session_state.pop(state.UPLOAD_REPORT, []):
        st.success(line)
    st.caption("上传专利或企业/需求表（CSV、TSV、XLSX），按与命令行导入相同的规则校验：编号已存在的记录被替换，"
               "新编号的记录被新增，缺少编号或必填文本的行被跳过。列名可用中文（如 专利号、名称、摘要；企业名称、需求描述），"
               "可选列包括联系人、联系电话、邮箱、发明人等。")
    kind = Kind(st.radio("数据类型", list(KINDS), format_func=KINDS.get, horizontal=True, key=state.UPLOAD_KIND))
    st.html(uploader_in_chinese(int(st.get_option("server.maxUploadSize"))))
    upload = st.file_uploader("选择文件", type=TYPES, key=state.UPLOAD_FILE)
    sheet = st.text_input("工作表名称（仅 XLSX，留空则读取第一个工作表）", key=state.UPLOAD_SHEET, max_chars=100)
    if upload is None:
        return
    matcher = engine()
    try:
        result = read_upload(upload.name, upload.getvalue(), kind, sheet.strip() or None)
    except InputError as exc:
        st.error(f"文件未通过校验，未写入任何数据：{md(exc)}")
        return
    stored = set(map(str, matcher.collection(kind).ids)) if matcher.has(kind) else set()
    show_preview(preview(result, stored))


def show_preview(up: UploadPreview) -> None:
    """The upload's summary, its skipped rows and its first records, and the button that writes them."""
    st.markdown(f"**{md(up.summary())}**")
    st.caption(md(up.result.report()))
    if up.result.skipped:
        st.markdown("**将跳过的行**")
        st.dataframe(pd.DataFrame([{"行号（表头后第 1 行为 1）": s.row, "列": s.column, "原因": s.reason} for s in up.result.skipped]),
                     hide_index=True, width="stretch")
    st.markdown(f"**预览**（前 {min(PREVIEW_ROWS, len(up.result.frame))} 条，共 {len(up.result.frame)} 条）")
    st.dataframe(up.result.frame.head(PREVIEW_ROWS), hide_index=True, width="stretch")
    if st.button("写入索引", type="primary", key=state.UPLOAD_APPLY):
        try:
            with st.spinner("正在写入索引（新文本需计算向量，请稍候）…"):
                added, replaced = apply(up)
        except MatcherError as exc:
            st.error(f"写入失败，索引未改动：{md(exc)}")
            return
        st.session_state[state.UPLOAD_REPORT] = [
            f"已写入 {md(up.result.file)}：新增 {added} 条，替换 {replaced} 条，跳过 {len(up.result.skipped)} 行。"
            "所有页面已使用新的索引。"]
        st.rerun()
