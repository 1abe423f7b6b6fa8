"""推送函: a DOCX letter per shortlisted pair from an editable template (patent summary, why it fits, licence terms,
the office's contact), built with python-docx."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from matcher.engine import Match, Matcher, SearchResult
from matcher.errors import MatcherError
from matcher.ingest import clean_text
from matcher.schema import Kind
from matcher.tracking import Item, TrackingStore, beijing_today, current_terms
from matcher.workbench.frames import clean

TEMPLATE_ENV = "MATCHER_LETTER_TEMPLATE"  # a UTF-8 text file with the office's own template
CONTACT_ENV = "MATCHER_OFFICE_CONTACT"  # the office's contact line printed in every letter
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUMMARY_CHARS = 300
PLACEHOLDERS = ("企业名称", "企业联系人", "专利名称", "专利号", "申请人", "专利摘要", "匹配理由", "许可方式", "价格", "成熟度",
                "办公室联系方式", "日期")
DEFAULT_TEMPLATE = """{企业名称}（{企业联系人}）：

您好！根据贵单位的技术需求，我们从高校专利中为您筛选出以下可转化的专利技术，特此推荐。

专利名称：{专利名称}（专利号 {专利号}）
专利权人：{申请人}
技术简介：{专利摘要}

推荐理由：{匹配理由}

许可条款：许可方式为{许可方式}，价格{价格}，技术成熟度为{成熟度}。

如有意向，欢迎与我们联系：{办公室联系方式}

此致
敬礼！

{日期}"""
_FIELD = re.compile(r"\{([^{}]*)\}")


def default_template() -> str:
    """The office's template (env MATCHER_LETTER_TEMPLATE, a UTF-8 text file) or the built-in one."""
    path = os.environ.get(TEMPLATE_ENV, "").strip()
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return DEFAULT_TEMPLATE
    return DEFAULT_TEMPLATE


def office_contact() -> str:
    """The office's contact line (env MATCHER_OFFICE_CONTACT; '' when not set)."""
    return os.environ.get(CONTACT_ENV, "").strip()


def fill(template: str, fields: Mapping[str, str]) -> str:
    """The template with each {占位符} replaced; unknown placeholders and stray braces are kept as typed."""
    return _FIELD.sub(lambda m: str(fields[m.group(1)]) if m.group(1) in fields else m.group(0), template)


def why_it_fits(matcher: Matcher, patent_id: str, enterprise_id: str) -> str:
    """The pair's explanation in words: shared key terms and the patent sentence closest to the demand."""
    try:
        patents = matcher.collection(Kind.PATENT)
        query = matcher.query_for(Kind.ENTERPRISE, enterprise_id)
        record = patents.record(patent_id)
    except MatcherError:
        return "该组合由技术经理人人工推荐。"
    result = SearchResult(query, Kind.PATENT, [Match(1, patent_id, 0.0, {}, record)])
    matcher.explain([result])
    ex = result.matches[0].explanation
    parts = []
    if ex and ex.shared_terms:
        parts.append(f"贵单位需求与该专利共同涉及「{'、'.join(ex.shared_terms[:6])}」")
    if ex and ex.closest_sentence:
        parts.append(f"专利中与需求最相关的内容为：「{ex.closest_sentence}」")
    return "；".join(parts) + "。" if parts else "该专利的技术内容与贵单位需求语义相近。"


def letter_fields(matcher: Matcher, store: TrackingStore, item: Item, contact: str) -> dict[str, str]:
    """The placeholders' values for one shortlisted pair (terms set in the workbench win over the imported ones)."""
    patent = _record(matcher, Kind.PATENT, item.patent_id)
    enterprise = _record(matcher, Kind.ENTERPRISE, item.enterprise_id)
    terms = current_terms(store, [item.patent_id]).get(item.patent_id)
    values = terms.values() if terms else {f: clean(patent.get(f)) for f in ("license_mode", "price", "maturity")}
    summary = clean(patent.get("abstract"))
    today = beijing_today()
    return {
        "企业名称": clean(enterprise.get("name")) or item.enterprise_name,
        "企业联系人": clean(enterprise.get("contact")) or "负责人",
        "专利名称": clean(patent.get("title")) or item.patent_title,
        "专利号": item.patent_id,
        "申请人": clean(patent.get("applicant")) or "—",
        "专利摘要": summary[:SUMMARY_CHARS] + ("…" if len(summary) > SUMMARY_CHARS else ""),
        "匹配理由": why_it_fits(matcher, item.patent_id, item.enterprise_id),
        "许可方式": values["license_mode"] or "面议",
        "价格": values["price"] or "面议",
        "成熟度": values["maturity"] or "未注明",
        "办公室联系方式": contact or "（请在设置中填写办公室联系方式）",
        "日期": f"{today.year}年{today.month}月{today.day}日",
    }


def _record(matcher: Matcher, kind: Kind, record_id: str) -> dict:
    try:
        return matcher.collection(kind).record(record_id) if matcher.has(kind) else {}
    except MatcherError:
        return {}


def build_docx(letters: Sequence[Mapping[str, str]], template: str) -> bytes:
    """One DOCX with a letter per pair (each on its own page).

    Args:
        letters: each letter's placeholder values (`letter_fields`).
        template: the letter text with {占位符}; a blank line separates paragraphs.

    Returns:
        The DOCX bytes.
    """
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    style.font.size = Pt(12)
    for n, fields in enumerate(letters):
        if n:
            doc.add_page_break()
        title = doc.add_paragraph()
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = title.add_run("专利技术推送函")
        run.bold, run.font.size = True, Pt(18)
        for line in fill(template, fields).split("\n"):
            doc.add_paragraph(clean_text(line, limit=20_000))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
