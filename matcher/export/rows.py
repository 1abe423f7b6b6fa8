"""The export's rows: the columns of one pair and the flattening of search results into them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matcher.explain import Explanation
from matcher.rank.reciprocal import list_rank
from matcher.results import SearchResult
from matcher.schema import Direction, Kind

# the per-pair columns written before the target's metadata columns (part of the run key: parts written
# with other columns are never resumed)
EXPORT_COLUMNS = ["direction", "query_id", "query_name", "rank", "target_id", "target_name", "score", "dense", "bm25",
                  "items", "portfolio", "activity", "reciprocal_rank", "confidence", "shared_terms", "closest_sentence", "sentence_similarity", "held_patent",
                  "held_similarity"]
NAME_COL = {Kind.PATENT: "title", Kind.ENTERPRISE: "name"}
_META = {
    Kind.PATENT: ("applicant", "applicant_type", "industry", "region", "license_mode", "maturity", "price", "inventor",
                  "contact", "phone", "email"),
    Kind.ENTERPRISE: ("industry", "region", "size", "capital", "cooperation", "budget", "contact", "phone", "email"),
}

EXPLANATION_COLUMNS = EXPORT_COLUMNS[-5:]


def explanation_values(exp: Explanation | None) -> list:
    """The export's explanation columns (shared_terms ... held_similarity) of one match."""
    if exp is None:
        return ["", "", 0.0, "", 0.0]
    return ["、".join(exp.shared_terms), exp.closest_sentence, round(exp.sentence_similarity, 6), exp.held_patent,
            round(exp.held_similarity, 6)]


def result_rows(direction: Direction | str, results: Sequence[SearchResult], names: Mapping[str, str]) -> list[dict]:
    """Flatten search results into export rows (one per pair).

    Args:
        direction: Direction.ENTERPRISE_TO_PATENT or Direction.PATENT_TO_ENTERPRISE (or its value).
        results: the ranked matches of each query.
        names: query id -> display name of the query record.

    Returns:
        Rows with the query, the match, its component scores and its explanation.
    """
    direction = Direction(direction).value
    rows = []
    for res in results:
        target = res.target
        for m in res.matches:
            values = [
                direction, res.query.id, names.get(res.query.id, ""), m.rank, m.target_id,
                m.record.get(NAME_COL[target], ""), round(m.score, 6), round(m.components.get("dense", 0.0), 6),
                round(m.components.get("bm25", 0.0), 6), round(m.components.get("items", 0.0), 6),
                round(m.components.get("portfolio", 0.0), 6),
                round(m.components.get("activity", math.nan), 6),  # blank without an activity model / for a demand
                list_rank(m.components.get("reciprocal")),  # blank unless weighted and the pair is mutual
                math.nan if m.confidence is None else m.confidence,  # blank without a confidence model / towards enterprises
                *explanation_values(m.explanation),
            ]
            row = dict(zip(EXPORT_COLUMNS, values, strict=True))
            for col in _META[target]:
                row[f"target_{col}"] = m.record.get(col, "")
            rows.append(row)
    return rows
