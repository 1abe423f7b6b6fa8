"""Engine configuration: encoder, segmentation, indexes and per-direction fusion, in one validated object."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from matcher.errors import MatcherError
from matcher.schema import Direction  # noqa: F401 - re-exported: the enum lives beside Kind

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class FusionConfig(BaseModel):
    """How dense and BM25 scores are combined for one direction.

    Attributes:
        method: "weighted" (z-normalised weighted sum over the candidate pool) or "rrf"
            (weighted reciprocal rank fusion).
        weights: weight per scorer name: "dense" (whole-text cosine), "bm25", "items" (best
            business-scope / demand items against the patent), "phrase" (the query's keywords found
            verbatim in the record), "portfolio" (the patents an enterprise already holds against the
            patent, when applicants name indexed enterprises); see matcher.rank.scorers.
        rrf_k: the RRF rank offset.
        query_segment_mode: jieba mode for the query's BM25 terms (documents are always indexed in
            the configured `segment_mode`): "accurate" suits demands, scopes and keyword needs,
            "search" suits long patent texts used as queries.
    """

    method: Literal["weighted", "rrf"] = "weighted"
    weights: dict[str, float] = Field(default_factory=lambda: {"dense": 0.5, "bm25": 0.5})
    rrf_k: int = 60
    query_segment_mode: Literal["search", "accurate"] = "search"


def _default_fusion() -> dict[Direction, FusionConfig]:
    # Chosen on the dev benchmarks with `pipelines/tune_fusion.py` (one setting per direction, never per
    # query; see README "Quality"): c2p-dev for enterprise->patent, p2c-dev for patent->enterprise,
    # kw2p-dev (short keyword needs) for free text -> patents. Free text -> enterprises has no benchmark
    # and follows patent->enterprise, since such text describes a technology. The "portfolio" weights (the
    # patents an enterprise already holds; inactive unless applicants name indexed enterprises) were chosen on
    # top of those settings with `pipelines/bench_portfolio.py` (ownership held out by fold; docs/quality.md).
    # The "activity" weight (an enterprise's patent-activity percentile; inactive unless `activity_model` is set)
    # was chosen on p2c-dev with models cross-validated over the dev companies (`matcher train-activity
    # --cross-validate`); free text -> enterprises leaves it out (no benchmark, and a demand is not a company).
    # The "reciprocal" weight (where a stored enterprise stands in each candidate patent's own patent -> enterprise
    # list, matcher.rank.reciprocal) was chosen on c2p-dev with the enterprises asked as stored records
    # (`matcher evaluate --query-records`); pasted text gets no such evidence.
    return {
        Direction.ENTERPRISE_TO_PATENT: FusionConfig(method="rrf", weights={"dense": 0.25, "bm25": 0.25, "items": 0.5, "portfolio": 1.0,
                                                                           "reciprocal": 1.0}),
        Direction.PATENT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.0, "bm25": 0.5, "items": 0.5, "portfolio": 0.5,
                                                              "activity": 2.0}),
        Direction.TEXT_TO_PATENT: FusionConfig(weights={"dense": 0.25, "bm25": 0.5, "phrase": 1.0}, query_segment_mode="accurate"),
        Direction.TEXT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.0, "bm25": 0.5, "items": 0.5}),
    }


class MatcherConfig(BaseModel):
    """Everything that determines how the engine builds indexes and ranks.

    Attributes:
        encoder: "use-m3" (Universal Sentence Encoder Multilingual v3) or a path to a local
            sentence-transformers model directory. Env var MATCHER_ENCODER overrides the default.
        cache_dir: embedding cache directory (keyed by model id and text hash).
        segment_mode: jieba mode for BM25 terms ("search" or "accurate").
        bm25_k1, bm25_b: BM25 parameters.
        dense_backend: "auto" (exact inner product up to `exact_limit` vectors, IVF above), "flat",
            "ivf" or "hnsw".
        exact_limit: the size up to which "auto" keeps an exact index.
        pool: candidates taken from each retriever before fusion (grown when filters remove too many).
        fusion: per-direction fusion settings.
        key_terms: how many shared key terms an explanation lists.
        items_top_m: best-item scoring averages this many best scope / demand items.
        portfolio_floor_quantile: a held patent's cosine to the other patent counts only above the cosine that
            this share of random pairs of indexed patents stay below (the "portfolio" signal is max(0, cosine -
            floor); see matcher.index.portfolio.chance_similarity).
        portfolio_floor: a fixed floor instead (None: from the quantile).
        activity_model: a patent-activity model directory (`matcher train-activity`, matcher.rank.activity); with
            it, patent -> enterprise ranking can weight "activity", each enterprise's percentile of looking like
            the enterprises that file patents. None: no such signal.
        reciprocal_depth: how many enterprises each patent's list keeps for the "reciprocal" signal of
            enterprise -> patent (a stored enterprise's rank in a candidate patent's own list; see
            matcher.rank.reciprocal); the lists are ranked once per change of the data or of these settings.
        exclude_held: never push a patent to an enterprise that already holds it (applicant = enterprise name,
            see matcher.index.portfolio), in either direction.
    """

    encoder: str = Field(default_factory=lambda: os.environ.get("MATCHER_ENCODER", "use-m3"))
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("MATCHER_CACHE_DIR", PROJECT_ROOT / "artifacts" / "cache"))
    )
    segment_mode: Literal["search", "accurate"] = "search"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    dense_backend: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    exact_limit: int = 200_000
    pool: int = 200
    fusion: dict[Direction, FusionConfig] = Field(default_factory=_default_fusion)
    key_terms: int = 8
    items_top_m: int = 3
    portfolio_floor_quantile: float = Field(0.9, ge=0.0, le=1.0)
    portfolio_floor: float | None = None
    exclude_held: bool = True
    activity_model: Path | None = None
    reciprocal_depth: int = Field(1000, ge=1)

    def fusion_for(self, direction: Direction) -> FusionConfig:
        """The fusion settings of one direction (falls back to the defaults)."""
        return self.fusion.get(direction) or _default_fusion()[direction]


def load_config(path: str | Path | None = None, **overrides) -> MatcherConfig:
    """Load the engine configuration from a JSON file (optional) plus keyword overrides.

    Args:
        path: a JSON file with any MatcherConfig fields; None for the defaults.
        **overrides: fields that win over the file (None values are ignored).

    Returns:
        The validated configuration.

    Raises:
        MatcherError: the file is missing, not JSON, or has invalid fields.
    """
    data: dict = {}
    if path:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MatcherError(f"config file {p} does not exist") from None
        except json.JSONDecodeError as exc:
            raise MatcherError(f"config file {p} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return MatcherConfig(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise MatcherError(f"config{' file ' + str(path) if path else ''}: field '{field}': {first['msg']}") from None
