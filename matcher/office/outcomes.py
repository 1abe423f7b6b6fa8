"""Learning from outcomes (跟踪反馈): reason-coded outcomes in the tracking database as documented priors on the next
run's enterprise -> patent lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.engine import Matcher
from matcher.office.ltr import OutcomeModel
from matcher.results import SearchResult
from matcher.schema import Kind
from matcher.tracking import LICENSED, NEGOTIATING, REJECTED, TRANSFERRED, TrackingStore

IMMATURE = "技术不成熟"
HAS_SOLUTION = "已有方案"
POSITIVE = (NEGOTIATING, LICENSED, TRANSFERRED)
OUTCOME_COLUMNS = ["patent_id", "enterprise_id", "status", "reason"]


@dataclass(frozen=True)
class PriorRules:
    """The documented priors (docs/office.md), applied to a list's relative scores (its scores scaled to 0-1).

    Attributes:
        immature_penalty: subtracted per 已拒绝/技术不成熟 refusal of the patent, by any enterprise (its maturity
            evidence is lowered for everyone), at most `max_refusals` times.
        max_refusals: the most refusals counted.
        similar: dense cosine similarity from which two patents (or two enterprises) count as similar.
        positive_boost: added to a pair (e, p) when a similar patent p' is 洽谈中 / 已许可 / 已转让 with e, or with an
            enterprise similar to e.
    """

    immature_penalty: float = 0.15
    max_refusals: int = 3
    similar: float = 0.80
    positive_boost: float = 0.20


def read_outcomes(store: TrackingStore) -> pd.DataFrame:
    """The shortlist's current outcomes: patent_id, enterprise_id, status, reason (every item)."""
    frame = store.frame()
    if frame.empty:
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    return frame[OUTCOME_COLUMNS].astype({"patent_id": str, "enterprise_id": str}).reset_index(drop=True)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


@dataclass
class OutcomePriors:
    """The outcomes' effect on one index's lists.

    Args:
        matcher: the loaded engine (its stored patent and enterprise vectors tell similarity).
        outcomes: `read_outcomes` rows.
        rules: the prior rules.
    """

    matcher: Matcher
    outcomes: pd.DataFrame
    rules: PriorRules = field(default_factory=PriorRules)

    def __post_init__(self) -> None:
        pats, ents = self.matcher.collection(Kind.PATENT), self.matcher.collection(Kind.ENTERPRISE)
        o = self.outcomes[self.outcomes["patent_id"].isin(set(pats.ids)) & self.outcomes["enterprise_id"].isin(set(ents.ids))]
        refused = o[(o["status"] == REJECTED) & (o["reason"] == IMMATURE)]
        self.refusals: dict[str, int] = refused.groupby("patent_id").size().astype(int).to_dict()
        self.solved = o[(o["status"] == REJECTED) & (o["reason"] == HAS_SOLUTION)][["enterprise_id", "patent_id"]]
        self.positive = o[o["status"].isin(POSITIVE)][["enterprise_id", "patent_id"]]
        wanted = sorted(set(self.solved["patent_id"]) | set(self.positive["patent_id"]))
        self._pat_ids = wanted
        self._pat_vecs = _unit(pats.vectors(wanted)) if wanted else np.zeros((0, 1), dtype=np.float32)
        e_ids = sorted(set(self.positive["enterprise_id"]))
        self._ent_ids = e_ids
        self._ent_vecs = _unit(ents.vectors(e_ids)) if e_ids else np.zeros((0, 1), dtype=np.float32)

    def features(self, enterprise_id: str, patent_ids: Sequence[str]) -> pd.DataFrame:
        """The prior's evidence for pairs of one enterprise: immature refusals of each patent, the highest similarity to
        a patent this enterprise refused as 已有方案, and to a patent in a positive outcome with this or a similar
        enterprise.

        Returns:
            Columns refusals, solved_similarity, positive_similarity (0 where there is no such outcome).
        """
        patent_ids = [str(p) for p in patent_ids]
        out = pd.DataFrame({"refusals": [min(self.refusals.get(p, 0), self.rules.max_refusals) for p in patent_ids],
                            "solved_similarity": 0.0, "positive_similarity": 0.0})
        if not patent_ids or not self._pat_ids:
            return out
        vecs = _unit(self.matcher.collection(Kind.PATENT).vectors(patent_ids))
        col = {p: i for i, p in enumerate(self._pat_ids)}
        solved = self.solved[self.solved["enterprise_id"] == str(enterprise_id)]["patent_id"].tolist()
        if solved:
            out["solved_similarity"] = (vecs @ self._pat_vecs[[col[p] for p in solved]].T).max(axis=1)
        if len(self.positive):
            e_vec = _unit(self.matcher.collection(Kind.ENTERPRISE).vectors([str(enterprise_id)]))[0]
            e_sim = dict(zip(self._ent_ids, (self._ent_vecs @ e_vec).tolist()))
            close = self.positive[[e == str(enterprise_id) or e_sim.get(e, 0.0) >= self.rules.similar
                                   for e in self.positive["enterprise_id"]]]["patent_id"].tolist()
            if close:
                out["positive_similarity"] = (vecs @ self._pat_vecs[[col[p] for p in close]].T).max(axis=1)
        return out

    def adjust(self, result: SearchResult, k: int, model: OutcomeModel | None = None) -> tuple[list[int], list[float], list[str]]:
        """Re-rank one enterprise's candidates by the rules.

        Args:
            result: its ranked candidates (deeper than k).
            k: the list length kept.
            model: a learnt outcome model that won on held-out outcomes: its chance of a good outcome replaces the
                relative score as the base the rules adjust.

        Returns:
            (positions of the kept matches in the new order, their adjusted scores, a reason per kept match); pairs
            similar to one the enterprise refused as 已有方案 are dropped.
        """
        if not result.matches:
            return [], [], []
        r = self.rules
        scores = np.array([m.score for m in result.matches], dtype=float)
        span = scores.max() - scores.min()
        rel = (scores - scores.min()) / span if span > 0 else np.ones(len(scores))
        if model is not None:
            rel = model.predict(np.array([[1.0 / max(m.rank, 1), m.score, m.components.get("dense", 0.0),
                                           m.components.get("bm25", 0.0), m.components.get("items", 0.0)]
                                          for m in result.matches]))
        f = self.features(result.query.id, [m.target_id for m in result.matches])
        adjusted = rel - r.immature_penalty * f["refusals"].to_numpy() \
            + r.positive_boost * (f["positive_similarity"].to_numpy() >= r.similar)
        dropped = f["solved_similarity"].to_numpy() >= r.similar
        order = [i for i in np.argsort(-adjusted, kind="stable") if not dropped[i]][:k]
        reasons = []
        for i in order:
            why = []
            if f.at[i, "refusals"]:
                why.append(f"{int(f.at[i, 'refusals'])} 次因技术不成熟被拒，降低")
            if f.at[i, "positive_similarity"] >= r.similar:
                why.append(f"与已成交/洽谈中的专利相似（{f.at[i, 'positive_similarity']:.2f}），提高")
            reasons.append("；".join(why))
        return [int(i) for i in order], [round(float(adjusted[i]), 4) for i in order], reasons

    def dropped_count(self, result: SearchResult) -> int:
        """How many of a result's candidates the 已有方案 rule drops."""
        f = self.features(result.query.id, [m.target_id for m in result.matches])
        return int((f["solved_similarity"] >= self.rules.similar).sum())


def maturity_evidence(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per patent, what enterprises said of its maturity: refusals as 技术不成熟 and positive outcomes (for the grades'
    enterprise-verdict provenance).

    Returns:
        Columns patent_id, immature_refusals, positive_outcomes.
    """
    if outcomes.empty:
        return pd.DataFrame(columns=["patent_id", "immature_refusals", "positive_outcomes"])
    o = outcomes.assign(immature=(outcomes["status"] == REJECTED) & (outcomes["reason"] == IMMATURE),
                        positive=outcomes["status"].isin(POSITIVE))
    g = o.groupby("patent_id").agg(immature_refusals=("immature", "sum"), positive_outcomes=("positive", "sum"))
    return g.astype(int).reset_index()


def next_lists(matcher: Matcher, priors: OutcomePriors, enterprise_ids: Sequence[str], *, k: int = 10, depth: int = 50,
               model: OutcomeModel | None = None, skip_tracked: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The enterprise -> patent lists of the next night, before and after the outcomes act on them.

    Args:
        matcher: the loaded engine.
        priors: the outcomes' priors.
        enterprise_ids: the enterprises (or demands) whose lists are made.
        k: list length.
        depth: candidates ranked per enterprise before re-ranking.
        model: a learnt outcome model that won on held-out outcomes (None: the default order is the base).
        skip_tracked: leave out the pairs already on the shortlist, before and after (as `matcher match
            --skip-tracked` does), so the lists show what the next night would offer.

    Returns:
        (before, after): rows enterprise_id, rank, patent_id, title, score; `after` also adjusted, reason and
        before_rank (blank for a patent that was not in the list before).
    """
    tracked = priors.outcomes.groupby("enterprise_id")["patent_id"].apply(tuple).to_dict() if skip_tracked else {}
    queries = [matcher.query_for(Kind.ENTERPRISE, e) for e in enterprise_ids]
    for q in queries:
        q.exclude = tuple(tracked.get(q.id, ()))
    results = matcher.search(queries, Kind.PATENT, k=max(depth, k), explain=False)
    before, after = [], []
    for res in results:
        first = {m.target_id: m.rank for m in res.matches[:k]}
        for m in res.matches[:k]:
            before.append({"enterprise_id": res.query.id, "rank": m.rank, "patent_id": m.target_id,
                           "title": m.record.get("title", ""), "score": round(float(m.score), 6)})
        order, adjusted, reasons = priors.adjust(res, k, model)
        for rank, (i, a, why) in enumerate(zip(order, adjusted, reasons), start=1):
            m = res.matches[i]
            after.append({"enterprise_id": res.query.id, "rank": rank, "patent_id": m.target_id,
                          "title": m.record.get("title", ""), "score": round(float(m.score), 6), "adjusted": a,
                          "reason": why, "before_rank": first.get(m.target_id, np.nan)})
    return pd.DataFrame(before, columns=["enterprise_id", "rank", "patent_id", "title", "score"]), pd.DataFrame(
        after, columns=["enterprise_id", "rank", "patent_id", "title", "score", "adjusted", "reason", "before_rank"])
