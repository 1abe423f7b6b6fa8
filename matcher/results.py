"""What a search takes and returns: queries, ranked matches with their evidence, and the direction between sides."""

from __future__ import annotations

from dataclasses import dataclass, field

from matcher.config import Direction
from matcher.schema import Kind


@dataclass
class Explanation:
    """The evidence behind one patent <-> enterprise pair.

    Attributes:
        shared_terms: key terms found in both texts, most specific (highest IDF) first.
        closest_sentence: the patent sentence closest in meaning to the enterprise / query text.
        sentence_similarity: cosine similarity of that sentence to the other text.
        held_patent: title of the enterprise's own patent closest to the pair's patent ("" when the enterprise
            holds none, or none more similar than the portfolio floor; see matcher.index.portfolio).
        held_similarity: cosine similarity of that held patent to the pair's patent.
    """

    shared_terms: list[str]
    closest_sentence: str
    sentence_similarity: float
    held_patent: str = ""
    held_similarity: float = 0.0


@dataclass
class Query:
    """What to match: free text, or a stored patent / enterprise.

    Attributes:
        text: the query text.
        kind: the side the query comes from (None for free text).
        id: the record id when the query is a stored record.
        exclude: ids of ranked records never returned for this query (e.g. the pairs already on an officer's
            shortlist): they are dropped from the finished ranking, so the other records keep their scores and
            order and the list fills from the next ones; ids not in the index are ignored.
    """

    text: str
    kind: Kind | None = None
    id: str | None = None
    exclude: tuple[str, ...] = ()


@dataclass
class Match:
    """One ranked record for a query, with the evidence for it.

    Attributes:
        rank: 1-based position in the query's list.
        target_id: the ranked record's id.
        score: the fused score (comparable within one query only).
        components: raw score per signal ("dense", "bm25", ...).
        record: the ranked record's columns.
        explanation: shared key terms, closest sentence and held patent (None until explained).
        confidence: the calibrated chance (0-1) that the pair is related or better (matcher.rank.confidence; None
            without a confidence model or for a direction it does not cover).
    """

    rank: int
    target_id: str
    score: float
    components: dict[str, float]
    record: dict
    explanation: Explanation | None = None
    confidence: float | None = None


@dataclass
class SearchResult:
    """The ranked matches of one query.

    Attributes:
        query: the query.
        target: the kind of records ranked.
        matches: best first.
        available: how many records passed the filters.
        verdict: 有合适专利 / 仅有相关专利 / 未找到合适专利 from the matches' confidences ("" without a confidence).
    """

    query: Query
    target: Kind
    matches: list[Match] = field(default_factory=list)
    available: int = 0
    verdict: str = ""


def direction_of(query_kind: Kind | None, target: Kind) -> Direction:
    """The direction of a query side and a ranked side.

    Args:
        query_kind: the kind of the query record (None: free text).
        target: the kind of the ranked records.

    Returns:
        The Direction.
    """
    if query_kind == Kind.ENTERPRISE and target == Kind.PATENT:
        return Direction.ENTERPRISE_TO_PATENT
    if query_kind == Kind.PATENT and target == Kind.ENTERPRISE:
        return Direction.PATENT_TO_ENTERPRISE
    return Direction.TEXT_TO_PATENT if target == Kind.PATENT else Direction.TEXT_TO_ENTERPRISE


_SIDE_NAMES = {Kind.PATENT: "专利", Kind.ENTERPRISE: "企业/需求"}


def shortfall_note(result: SearchResult) -> str:
    """The sentence an officer is shown when the filters leave no more records than the list holds.

    Args:
        result: a search result.

    Returns:
        "没有符合筛选条件的…" when nothing passes, "仅有 N 条…符合筛选条件" when every record that passes is shown,
        else "".
    """
    side = _SIDE_NAMES[result.target]
    if result.available == 0:
        return f"没有符合筛选条件的{side}"
    if len(result.matches) < result.available or not result.matches:
        return ""
    return f"仅有 {result.available} 条{side}符合筛选条件"
