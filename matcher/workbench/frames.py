"""The tables the workbench shows (and exports): ranked pairs and the shortlist, with Chinese headers."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd

from matcher.engine import Match, SearchResult
from matcher.rank.reciprocal import list_rank
from matcher.schema import Kind
from matcher.tracking import Item
from matcher.workbench.degree import Graded
from matcher.workbench.markup import as_text

BEIJING = ZoneInfo("Asia/Shanghai")
"""Every time the workbench shows is Beijing time (the database stores naive UTC)."""

PAIR_COLUMNS = [
    "排名", "专利号", "专利名称", "企业/需求编号", "企业/需求名称", "匹配度", "语义相近", "关键词重合", "条目相符", "互选",
    "共有关键词", "最相关专利句", "企业已持有相近专利", "专利活跃度", "互选排名", "申请人", "申请人类型", "专利行业", "专利地区", "许可方式", "价格", "成熟度",
    "企业地区", "跟踪状态",
]

SHORTLIST_COLUMNS = [
    "记录号", "专利号", "专利名称", "企业/需求编号", "企业/需求名称", "行业", "匹配度", "状态", "拒绝原因", "负责人",
    "备注", "下次跟进", "推送时间", "回复时间", "最后修改人", "最后修改时间", "版本",
]


def text_query_id(text: str) -> str:
    """A stable id for a pasted demand text (used as the enterprise side of a shortlisted pair)."""
    return "TEXT-" + hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:10]


def contacted_targets(contacted: Iterable[tuple[str, str]], query_id: str, target: Kind) -> tuple[str, ...]:
    """The ids on the `target` side of the contacted (patent_id, enterprise_id) pairs whose other side is `query_id`."""
    if target == Kind.PATENT:
        return tuple(sorted(p for p, e in contacted if e == query_id))
    return tuple(sorted(e for p, e in contacted if p == query_id))


def clean(value: object) -> str:
    """A cell as display text, stripped ('' for missing values and their spelled-out forms)."""
    text = as_text(value).strip()
    return "" if text.lower() in ("nan", "none", "<na>") else text


def local_time(value: datetime | None) -> str:
    """A stored UTC timestamp (naive UTC, or aware) as Beijing time text ('' for None)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    moment = pd.Timestamp(value).to_pydatetime()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def beijing_today() -> date:
    """Today's date in Beijing."""
    return datetime.now(BEIJING).date()


@dataclass
class Pair:
    """One ranked pair as shown on a card: the patent side, the enterprise side and the evidence."""

    match: Match
    patent: dict
    enterprise: dict
    query_side: Kind | None  # which side the query came from (None: pasted text)
    item: Item | None = None
    extra: dict = field(default_factory=dict)
    degree: int = 0  # 匹配度 (0-100, matcher.workbench.degree)
    words: dict[str, str] = field(default_factory=dict)  # component word -> 高 / 中 / 低

    @property
    def patent_id(self) -> str:
        return clean(self.patent.get("id"))

    @property
    def enterprise_id(self) -> str:
        return clean(self.enterprise.get("id"))


def make_pairs(result: SearchResult, query_record: Mapping | None, pair_items: Mapping[tuple[str, str], Item],
               graded: Graded | None = None) -> list[Pair]:
    """The pairs of a search result (query_record: the stored query record, or None for pasted text; graded: the
    result's 匹配度 and component words, `matcher.workbench.degree.grade`)."""
    pairs = []
    query = result.query
    if query_record is None:
        query_record = {"id": text_query_id(query.text), "name": _short(query.text), "text": query.text, "content": query.text}
    for i, m in enumerate(result.matches):
        if result.target == Kind.PATENT:
            patent, enterprise = m.record, dict(query_record)
        else:
            patent, enterprise = dict(query_record), m.record
        pair = Pair(m, patent, enterprise, query.kind)
        pair.item = pair_items.get((pair.patent_id, pair.enterprise_id))
        if graded is not None and i < len(graded.degrees):
            pair.degree, pair.words = graded.degrees[i], graded.words[i]
        pairs.append(pair)
    return pairs


def _short(text: str, n: int = 24) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "…"


def has_activity(components: Mapping[str, float]) -> bool:
    """Whether a match carries a patent-activity percentile (a model is configured and the record is an organisation)."""
    return math.isfinite(components.get("activity", math.nan))


def activity_line(percentile: float) -> str:
    """The card's line for an enterprise's patent activity (its percentile among the indexed enterprises)."""
    return (f"专利活跃度：名称、经营范围与注册资本比 {percentile:.0%} 的入库企业更接近申请专利的企业"
            "（企业更可能具备承接专利的研发能力）")


def reciprocal_line(rank: int) -> str:
    """The card's line for a mutual fit: where the enterprise stands in the patent's own list of enterprises."""
    return (f"互选排名：在该专利的全部候选企业/需求中，本企业排第 {rank} 位"
            "（双向都靠前的组合更值得优先推送）")


def pair_frame(pairs: Iterable[Pair]) -> pd.DataFrame:
    """The on-screen table of ranked pairs (the same frame is exported)."""
    rows = []
    for p in pairs:
        m, pat, ent = p.match, p.patent, p.enterprise
        ex = m.explanation
        rows.append({
            "排名": m.rank,
            "专利号": p.patent_id,
            "专利名称": clean(pat.get("title")),
            "企业/需求编号": p.enterprise_id,
            "企业/需求名称": clean(ent.get("name")),
            "匹配度": p.degree,
            "语义相近": p.words.get("语义相近", ""),
            "关键词重合": p.words.get("关键词重合", ""),
            "条目相符": p.words.get("条目相符", p.words.get("原文短语", "")),
            "互选": p.words.get("互选", ""),
            "共有关键词": "、".join(ex.shared_terms) if ex else "",
            "最相关专利句": ex.closest_sentence if ex else "",
            "企业已持有相近专利": ex.held_patent if ex and ex.held_patent else "",
            "专利活跃度": round(float(m.components["activity"]), 3) if has_activity(m.components) else "",
            "互选排名": list_rank(m.components.get("reciprocal")) or "",
            "申请人": clean(pat.get("applicant")),
            "申请人类型": clean(pat.get("applicant_type")),
            "专利行业": clean(pat.get("industry")),
            "专利地区": clean(pat.get("region")),
            "许可方式": clean(pat.get("license_mode")),
            "价格": clean(pat.get("price")),
            "成熟度": clean(pat.get("maturity")),
            "企业地区": clean(ent.get("region")),
            "跟踪状态": p.item.status if p.item else "",
        })
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def shortlist_frame(items: Iterable[Item]) -> pd.DataFrame:
    """The on-screen shortlist table (the same frame is exported)."""
    rows = [{
        "记录号": i.id,
        "专利号": i.patent_id,
        "专利名称": i.patent_title,
        "企业/需求编号": i.enterprise_id,
        "企业/需求名称": i.enterprise_name,
        "行业": i.industry,
        "匹配度": None if i.score is None else int(round(float(i.score))),
        "状态": i.status,
        "拒绝原因": i.reason or "",
        "负责人": i.owner,
        "备注": i.note,
        "下次跟进": i.next_action.isoformat() if i.next_action else "",
        "推送时间": local_time(i.pushed_at),
        "回复时间": local_time(i.replied_at),
        "最后修改人": i.updated_by,
        "最后修改时间": local_time(i.updated_at),
        "版本": i.version,
    } for i in items]
    return pd.DataFrame(rows, columns=SHORTLIST_COLUMNS)


def option_values(frame: pd.DataFrame, column: str, *, major: bool = False, split: str | None = None) -> list[str]:
    """Distinct non-empty values of a column for a filter (major: the part before '-'; split: a separator)."""
    if column not in frame.columns:
        return []
    values: set[str] = set()
    for v in frame[column].map(clean):
        if not v:
            continue
        parts = [x.strip() for x in v.replace("，", ",").split(split)] if split else [v]
        for x in parts:
            if x:
                values.add(x.split("-")[0].strip() if major else x)
    return sorted(values)
