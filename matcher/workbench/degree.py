"""匹配度: one 0-100 reading of every pair on every page, the calibrated chance that the pair is judged related.

The number is `matcher.rank.confidence`'s calibrated confidence (the demand -> patent model shipped in
matcher/rank/resources/confidence-d2p.json, or the one the configuration names) times 100: 匹配度 30 means that about
30 in 100 such pairs were judged related or better by the officers' judges. The model was fitted on demand -> patent
lists (pasted text and stored records); the other directions use the same model's features as the best estimate the
project has (patent -> enterprise reads the stored-record model, pasted text towards enterprises the text model).
Components are shown as words (语义相近 / 关键词重合 / ... 高 / 中 / 低), never as raw scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


from matcher.engine import Matcher, SearchResult
from matcher.rank.confidence import (
    FEATURES,
    LIST_DEPTH,
    MIN_TERM_CHARS,
    MIN_TERM_IDF,
    NONE_FOUND,
    ConfidenceModel,
    informative_shared,
)
from matcher.rank.degree import MODEL_DIRECTION, degree, model_of, neutral
from matcher.rank.reciprocal import list_rank
from matcher.results import direction_of
from matcher.schema import Direction, Kind

EXPLAIN_LINE = ("匹配度（0–100）：根据人工评判数据校准的“该组合被评为相关或更好”的可能性，"
                "如 匹配度 30 表示同类组合中约 30% 被评为相关；各方向、各页面含义相同。")
"""The one line each page shows beside its lists."""

VERDICT_NOTES = {
    "有合适专利": "判断：有合适专利（排名靠前的组合很可能解决需求）",
    "仅有相关专利": "判断：仅有相关专利（有值得一看的组合，但未必能直接解决需求）",
    NONE_FOUND: "判断：未找到合适专利（以下组合被评为相关的可能性都很低）",
}
"""The verdict line at the top of a list (towards enterprises the same three readings name 企业/需求)."""

HIGH, MEDIUM, LOW = "高", "中", "低"

@dataclass
class Graded:
    """A search result with the 匹配度 of each of its matches, the words of their components and the verdict.

    Attributes:
        result: the search result (its matches' `confidence` set).
        degrees: 匹配度 (0-100) per match, in order.
        words: per match, component name -> band (高 / 中 / 低), e.g. {"语义相近": "高", "关键词重合": "低"}.
        verdict: 有合适专利 / 仅有相关专利 / 未找到合适专利 ("" for an empty list).
    """

    result: SearchResult
    degrees: list[int] = field(default_factory=list)
    words: list[dict[str, str]] = field(default_factory=list)
    verdict: str = ""


def band(z: float) -> str:
    """A standardised value (0 = the judged pairs' mean, 1 = one standard deviation) as 高 / 中 / 低."""
    if not math.isfinite(z):
        return ""
    return HIGH if z >= 0.5 else LOW if z <= -0.5 else MEDIUM


def component_words(x: np.ndarray, components: Mapping[str, float], model_direction: str,
                    model: ConfidenceModel) -> dict[str, str]:
    """The plain-word bands of one pair's components.

    语义相近 (dense similarity) and 关键词重合 (the share of the query's informative words the record shares) are
    placed against the judged pairs of the model's direction; 条目相符 (best business-scope items) and 原文短语
    (literal phrases) likewise where the direction has them; 互选 from the enterprise's place in the patent's own list
    (top 10: 高, top 100: 中, else 低); 专利活跃度 from its percentile.

    Args:
        x: the pair's features (`FEATURES` order).
        components: the match's component scores.
        model_direction: the fitted direction the pair is read with.
        model: the confidence model (its per-feature means and scales).

    Returns:
        Component word -> band, only for the components the pair has.
    """
    m = model.directions[model_direction]

    def z(feature: str) -> float:
        i = FEATURES.index(feature)
        return (float(x[i]) - m.mean[i]) / m.scale[i]

    out = {"语义相近": band(z("c_dense")), "关键词重合": band(z("shared_idf_share"))}
    if "items" in components and m.scale[FEATURES.index("c_items")] != 1.0:
        out["条目相符"] = band(z("c_items"))
    if "phrase" in components and m.scale[FEATURES.index("c_phrase")] != 1.0:
        out["原文短语"] = band(z("c_phrase"))
    rank = list_rank(components.get("reciprocal"))
    if rank is not None:
        out["互选"] = HIGH if rank <= 10 else MEDIUM if rank <= 100 else LOW
    activity = components.get("activity", math.nan)
    if math.isfinite(activity):
        out["专利活跃度"] = HIGH if activity >= 2 / 3 else MEDIUM if activity >= 1 / 3 else LOW
    return out


def grade(matcher: Matcher, result: SearchResult) -> Graded:
    """The 匹配度 of every match of one search result (sets `Match.confidence` where the engine did not).

    Args:
        matcher: the engine that ranked the result (its terms and IDFs give the features).
        result: the ranked list, best first.

    Returns:
        The graded result.
    """
    if not result.matches:
        return Graded(result)
    model = model_of(matcher)
    direction = MODEL_DIRECTION[direction_of(result.query.kind, result.target)]
    x = neutral(matcher.pair_features([result])[0], direction_of(result.query.kind, result.target), model)
    engine_set = all(m.confidence is not None for m in result.matches)
    conf = (np.array([m.confidence for m in result.matches], dtype=float) if engine_set
            else model.predict_proba(direction, x))
    for m, p in zip(result.matches, conf):
        m.confidence = round(float(p), 4)
    words = [component_words(row, m.components, direction, model) for row, m in zip(x, result.matches)]
    return Graded(result, [degree(p) for p in conf], words, model.verdict(direction, conf.tolist()))


def verdict_note(verdict: str, target: Kind) -> str:
    """The verdict line at the top of a list ("" without a verdict)."""
    note = VERDICT_NOTES.get(verdict, "")
    return note.replace("专利", "企业/需求") if note and target == Kind.ENTERPRISE else note


def words_text(words: Mapping[str, str]) -> str:
    """Component bands as one line, e.g. 语义相近：高 · 关键词重合：低."""
    return " · ".join(f"{name}：{level}" for name, level in words.items() if level)


def export_degrees(frame: pd.DataFrame, direction: Direction | str, matcher: Matcher | None = None) -> pd.Series:
    """匹配度 of every pair of one direction's nightly export.

    The export's own `confidence` is used where the run wrote one (a confidence model configured). Otherwise the
    same model reads the features the export holds: scores, ranks and list statistics, the components, and the
    informative shared terms' IDF share of the query's (from the index's records when `matcher` is given, else the
    judged pairs' mean).

    Args:
        frame: the export rows (columns query_id, rank, score, dense, bm25, items, portfolio, shared_terms, ...).
        direction: the export's direction.
        matcher: the current engine, or None.

    Returns:
        匹配度 (0-100) per row, aligned with `frame`.
    """
    if frame.empty:
        return pd.Series([], dtype=int, index=frame.index)
    conf = pd.to_numeric(frame["confidence"], errors="coerce") if "confidence" in frame else pd.Series(np.nan, index=frame.index)
    if conf.notna().all():
        return conf.map(degree)
    model = model_of(matcher)
    model_direction = MODEL_DIRECTION[Direction(direction)]
    x = neutral(_export_features(frame, Direction(direction), matcher, model.directions[model_direction].mean),
                Direction(direction), model)
    estimate = pd.Series(model.predict_proba(model_direction, x), index=frame.index)
    return conf.where(conf.notna(), estimate).map(degree)


def _export_features(frame: pd.DataFrame, direction: Direction, matcher: Matcher | None, means: Sequence[float]
                     ) -> np.ndarray:
    """The confidence features of export rows (what the export lacks: the judged pairs' mean)."""
    n = len(frame)
    num = lambda c: pd.to_numeric(frame[c], errors="coerce").fillna(0.0).to_numpy(float) if c in frame else np.zeros(n)  # noqa: E731
    score, rank = num("score"), np.maximum(num("rank"), 1)
    groups = frame["query_id"].astype(str).to_numpy()
    order = np.lexsort((rank, groups))
    mean = np.zeros(n)
    top1 = np.zeros(n)
    nxt = score.copy()
    best_dense = np.zeros(n)
    dense = num("dense")
    for _, rows in pd.Series(order).groupby(groups[order]):
        rows = rows.to_numpy()
        head = rows[:LIST_DEPTH]
        mean[rows] = score[head].mean()
        top1[rows] = score[rows[0]]
        best_dense[rows] = dense[head].max()
        nxt[rows[:-1]] = score[rows[1:]]
    x = np.tile(np.asarray(means, dtype=float), (n, 1))
    col = {name: i for i, name in enumerate(FEATURES)}
    x[:, col["score"]] = score
    x[:, col["inv_rank"]] = 1.0 / rank
    x[:, col["margin_next"]] = score - nxt
    x[:, col["margin_mean"]] = score - mean
    x[:, col["top1"]] = top1
    x[:, col["spread"]] = top1 - mean
    for name in ("dense", "bm25", "items", "portfolio"):
        x[:, col[f"c_{name}"]] = num(name)
    x[:, col["c_dense_gap"]] = dense - best_dense
    if matcher is not None:
        x[:, col["shared_idf_share"]] = _shared_share(frame, direction, matcher, x[:, col["shared_idf_share"]])
    return x


def _shared_share(frame: pd.DataFrame, direction: Direction, matcher: Matcher, default: np.ndarray) -> np.ndarray:
    """Each row's informative shared terms' IDF mass as a share of its query's (`pair_features`' shared_idf_share,
    from the index's records; `default` for rows whose query or target is no longer indexed)."""
    query_kind, target = direction.source, direction.target
    if not (matcher.has(query_kind) and matcher.has(target)):
        return default
    queries, targets = matcher.collection(query_kind), matcher.collection(target)
    out = default.copy()
    stored = [t for t in frame["target_id"].astype(str).unique() if t in targets]
    target_terms = dict(zip(stored, targets.stored_terms(stored)))
    query_terms: dict[str, list[str]] = {}
    for qid in frame["query_id"].astype(str).unique():
        if qid in queries:
            query_terms[qid] = matcher.query_terms(matcher.query_for(query_kind, qid).text, direction)
    vocabulary = {t for ts in query_terms.values() for t in ts}
    idf = targets.lexical.term_idf(sorted(vocabulary))
    masses = {qid: sum(idf.get(t, 0.0) for t in {t for t in ts if len(t) >= MIN_TERM_CHARS}
                       if idf.get(t, 0.0) >= MIN_TERM_IDF) for qid, ts in query_terms.items()}
    for i, (qid, tid) in enumerate(zip(frame["query_id"].astype(str), frame["target_id"].astype(str))):
        mass = masses.get(qid, 0.0)
        if mass > 0 and tid in target_terms:
            shared = informative_shared(query_terms[qid], target_terms[tid], idf)
            out[i] = sum(idf.get(t, 0.0) for t in shared) / mass
    return out
