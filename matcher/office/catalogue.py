"""The demand catalogue (专利需求信息目录): every enterprise demand by sector, its best patents and a coverage verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.office.demands import demand_mask
from matcher.office.licence_fit import fit_columns
from matcher.office.sectors import sector_labels
from matcher.office.workbook import officer_table
from matcher.rank.confidence import NONE_FOUND, RELATED_ONLY, SUITABLE, ConfidenceModel
from matcher.rank.degree import degree, model_of
from matcher.schema import Direction, Kind

WELL, WEAK, NONE = "充分满足", "部分满足", "无合适专利"
COVERAGE = {SUITABLE: WELL, RELATED_ONLY: WEAK, NONE_FOUND: NONE}
"""The confidence model's verdict -> the catalogue's coverage verdict."""
COVERAGE_ORDER = (WELL, WEAK, NONE)
HIGH_QUANTILE, LOW_QUANTILE = 0.75, 0.40
"""Without a confidence model: a demand whose best score reaches the 75th percentile of all demands' best scores is
充分满足, below the 40th percentile 无合适专利, in between 部分满足 (a relative grading of this stock)."""
D2P = Direction.ENTERPRISE_TO_PATENT.value


def coverage_model(matcher: Matcher) -> ConfidenceModel | None:
    """The confidence model for coverage verdicts: the engine's own when its configuration names one
    (`confidence_model`, opt-in), else None and the score distribution decides.

    The shipped demand -> patent model is not taken by default: on the judged test split it barely tells related
    pairs from unrelated ones and its "suitable" cut is never reached, so every demand would read 部分满足."""
    if matcher.confidence is not None and matcher.confidence.has(D2P):
        return matcher.confidence
    return None


@dataclass
class Catalogue:
    """A demand catalogue.

    Attributes:
        demands: one row per demand: sector, demand_id, name, cooperation, coverage, best_score (the engine's),
            best_degree (匹配度 0-100 of its best patent), best_patents (the top titles joined), text.
        pairs: the demands' best patents: demand rows' sector, demand_id, rank, patent_id, title, applicant, score,
            degree (匹配度 0-100), licence_fit, licence_line.
        method: how the coverage was decided ("confidence model ..." or "score distribution ..."), for the CLI.
        method_zh: the same in Chinese, for the workbook's cover.
    """

    demands: pd.DataFrame
    pairs: pd.DataFrame
    method: str
    method_zh: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Per sector: demands, how many 充分满足 / 部分满足 / 无合适专利 (largest sectors first)."""
        if self.demands.empty:
            return pd.DataFrame(columns=["sector", "demands", *COVERAGE_ORDER])
        counts = pd.crosstab(self.demands["sector"], self.demands["coverage"]).reindex(columns=COVERAGE_ORDER, fill_value=0)
        counts.insert(0, "demands", counts.sum(axis=1))
        return counts.sort_values("demands", ascending=False).reset_index()

    def unanswered(self) -> pd.DataFrame:
        """The demands the stock does not answer (无合适专利), by sector: what universities are asked to work on."""
        rows = self.demands[self.demands["coverage"] == NONE]
        return rows[["sector", "demand_id", "name", "cooperation", "best_score", "text"]].sort_values(
            ["sector", "demand_id"]).reset_index(drop=True)


def build_catalogue(matcher: Matcher, *, k: int = 5, id_pattern: str | None = None, demand_ids: list[str] | None = None,
                    patent_filters: dict | None = None, use_model: bool = True) -> Catalogue:
    """Rank patents for every demand and give each a coverage verdict.

    Args:
        matcher: a loaded engine with patents and enterprises.
        k: best patents kept per demand.
        id_pattern: the regular expression telling demand ids (see `demand_mask`); None: the name / capital rule.
        demand_ids: only these demands (ids of enterprise records), e.g. for a page showing one sector.
        patent_filters: filters on the ranked patents (column -> values).
        use_model: use the confidence model when one fits the engine (False: always the score distribution).

    Returns:
        The Catalogue.

    Raises:
        MatcherError: the index has no patents, or no enterprise record is a demand.
    """
    if not matcher.has(Kind.PATENT) or not matcher.has(Kind.ENTERPRISE):
        raise MatcherError("the index needs both patents and enterprise demands for a demand catalogue")
    records = matcher.collection(Kind.ENTERPRISE).records
    chosen = records[demand_mask(records, id_pattern)]
    if demand_ids is not None:
        chosen = chosen[chosen["id"].isin([str(i) for i in demand_ids])]
    if chosen.empty:
        raise MatcherError("no enterprise record of the index is a demand (demands have no registered capital and a "
                           "name that is not a company's; or give --demand-ids REGEX)")
    results = matcher.search([matcher.query_for(Kind.ENTERPRISE, i) for i in chosen["id"]], Kind.PATENT, k=k,
                             filters=patent_filters, explain=False)
    model = coverage_model(matcher) if use_model else None
    best = np.array([r.matches[0].score if r.matches else np.nan for r in results], dtype=float)
    # every pair's confidence (匹配度 / 100, as the workbench shows it): the engine's model, else the shipped one
    shown_by = model or model_of(matcher)
    confidences: list[list[float]] = [[] for _ in results]
    for i, x in enumerate(matcher.pair_features(results)):
        if len(x):
            confidences[i] = shown_by.predict_proba(D2P, x).round(4).tolist()
    degrees = [[degree(c) for c in row] for row in confidences]
    if model is not None:
        verdicts = [COVERAGE[model.verdict(D2P, c)] for c in confidences]
        card = model.card.get("judged", model.card.get("data", ""))
        method = (f"confidence model (threshold {model.threshold(D2P):.3f}, strong {model.directions[D2P].strong:.3f}"
                  f"{'; ' + str(card)[:80] if card else ''})")
        method_zh = (f"匹配置信度模型：最佳专利置信度 ≥ {model.directions[D2P].strong:.3f} 为{WELL}，"
                     f"≥ {model.threshold(D2P):.3f} 为{WEAK}，否则为{NONE}")
    else:
        finite = best[np.isfinite(best)]
        hi, lo = (np.quantile(finite, HIGH_QUANTILE), np.quantile(finite, LOW_QUANTILE)) if len(finite) else (np.inf, np.inf)
        verdicts = [NONE if not np.isfinite(s) or s < lo else WELL if s >= hi else WEAK for s in best]
        method = (f"score distribution (best score >= {hi:.4f}, the {HIGH_QUANTILE:.0%} quantile: {WELL}; "
                  f"< {lo:.4f}, the {LOW_QUANTILE:.0%} quantile: {NONE})")
        method_zh = (f"本库匹配分分布（相对分级）：最高匹配分 ≥ {hi:.4f}（全部需求的 {HIGH_QUANTILE:.0%} 分位）为{WELL}，"
                     f"< {lo:.4f}（{LOW_QUANTILE:.0%} 分位）为{NONE}，其余为{WEAK}")
    sectors = sector_labels(chosen).tolist()
    demands = pd.DataFrame({
        "sector": sectors, "demand_id": chosen["id"].tolist(), "name": chosen["name"].tolist(),
        "cooperation": chosen.get("cooperation", pd.Series("", index=chosen.index)).fillna("").tolist(),
        "coverage": verdicts, "best_score": np.round(best, 6),
        "best_degree": [max(d) if d else np.nan for d in degrees],
        "best_patents": ["；".join(m.record.get("title", "") for m in r.matches[:3]) for r in results],
        "text": chosen["text"].tolist(),
    })
    rows = [{"sector": sectors[i], "demand_id": r.query.id, "demand_name": demands.at[i, "name"], "rank": m.rank,
             "patent_id": m.target_id, "title": m.record.get("title", ""), "applicant": m.record.get("applicant", ""),
             "score": round(float(m.score), 6), "degree": degrees[i][j] if degrees[i] else np.nan,
             "enterprise_id": r.query.id}
            for i, r in enumerate(results) for j, m in enumerate(r.matches)]
    pairs = pd.DataFrame(rows, columns=["sector", "demand_id", "demand_name", "rank", "patent_id", "title", "applicant",
                                        "score", "degree", "enterprise_id"])
    if len(pairs):
        ent = chosen.set_index("id", drop=False).to_dict("index")
        pats = matcher.collection(Kind.PATENT).records
        pats = pats[pats["id"].isin(set(pairs["patent_id"]))].set_index("id", drop=False).to_dict("index")
        pairs = fit_columns(pairs, ent, pats)
    pairs = pairs.drop(columns=["enterprise_id"])
    order = {c: i for i, c in enumerate(COVERAGE_ORDER)}
    demands = demands.sort_values(["sector", "coverage", "best_score"], key=lambda s: s.map(order) if s.name == "coverage" else s,
                                  ascending=[True, True, False]).reset_index(drop=True)
    return Catalogue(demands, pairs, method, method_zh)


DEMAND_HEADERS = {"sector": "产业领域", "demand_id": "需求编号", "name": "需求名称", "cooperation": "合作方式",
                  "coverage": "满足程度", "best_degree": "最高匹配度",
                  "best_patents": "最佳专利", "text": "需求内容"}
PAIR_HEADERS = {"sector": "产业领域", "demand_id": "需求编号", "demand_name": "需求名称", "rank": "名次",
                "patent_id": "专利编号", "title": "专利名称", "applicant": "申请人",
                "degree": "匹配度", "licence_fit": "许可匹配", "licence_line": "许可说明", "free_first": "先免费后有偿"}


def catalogue_sheets(cat: Catalogue) -> dict[str, pd.DataFrame]:
    """The catalogue's XLSX sheets with Chinese headers: 领域汇总, 需求目录, 最佳专利, 待攻关需求 (unanswered, for
    universities)."""
    summary = cat.summary().rename(columns={"sector": "产业领域", "demands": "需求数"})
    return {
        "领域汇总": summary,
        "需求目录": officer_table(cat.demands, DEMAND_HEADERS),
        "最佳专利": officer_table(cat.pairs, PAIR_HEADERS),
        "待攻关需求": officer_table(cat.unanswered(), DEMAND_HEADERS),
    }


def catalogue_cover(cat: Catalogue, source: str = "") -> list[tuple[str, object]]:
    """The cover lines of a catalogue workbook."""
    counts = cat.demands["coverage"].value_counts()
    return [
        ("数据来源", source or "当前索引"),
        ("需求数", len(cat.demands)),
        ("满足程度", "；".join(f"{c} {int(counts.get(c, 0))}" for c in COVERAGE_ORDER)),
        ("判定方法", cat.method_zh or cat.method),
        ("说明", "「充分满足」：库中有专利可直接回应该需求；「部分满足」：仅有相关专利；「无合适专利」：现有专利库无法回应，"
                 "见「待攻关需求」表，供高校和科研院所研发参考。匹配度（0-100）：该组合被评为相关的估计概率。"),
    ]
