"""Engine configuration: encoder, segmentation, indexes and per-direction fusion, in one validated object."""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from matcher.errors import MatcherError
from matcher.schema import Direction  # noqa: F401 - re-exported: the enum lives beside Kind

PROJECT_ROOT = Path(__file__).resolve().parent.parent

logger = logging.getLogger(__name__)

TRAINED_ENCODER_SPEC = "use-m3+{encoder}"
"""The default encoder spec when the trained models are there ("{encoder}": the trained static encoder's folder):
config/ensemble.json's, the best configuration measured on the held-out companies (docs/evaluation.md); no faster
one is yet shown not to be worse (docs/performance.md, "Choosing the default encoder")."""


class FusionConfig(BaseModel):
    """How the scorers' scores are combined for one direction (each field is described in `Field`)."""

    method: Literal["weighted", "rrf"] = Field(
        "weighted", description='"weighted" (z-normalised weighted sum over the candidate pool) or "rrf" (weighted '
                                "reciprocal rank fusion).")
    weights: dict[str, float] = Field(
        default_factory=lambda: {"dense": 0.5, "bm25": 0.5},
        description='Weight per scorer name: "dense" (whole-text cosine), "bm25", "items" (best business-scope / '
                    'demand items against the patent), "phrase" (the query\'s keywords found verbatim in the record), '
                    '"portfolio" (the patents an enterprise already holds against the patent, when applicants name '
                    'indexed enterprises), "activity" (an enterprise\'s patent-activity percentile, with '
                    '`activity_model`), "reciprocal" (where a stored enterprise stands in a candidate patent\'s own '
                    'list), "grade" (the patent\'s tier and 产业化前景, once `matcher grade --index` ran), "licence" (the '
                    "pair's licence-mode and budget fit); see matcher.rank.scorers.")
    rrf_k: int = Field(60, description="The RRF rank offset (method \"rrf\").")
    query_segment_mode: Literal["search", "accurate"] = Field(
        "search", description="jieba mode for the query's BM25 terms (documents are always indexed in the configured "
                              '`segment_mode`): "accurate" suits demands, scopes and keyword needs, "search" suits long '
                              "patent texts used as queries.")


def _default_fusion() -> dict[Direction, FusionConfig]:
    # Chosen on the dev benchmarks with `matcher lab tune-fusion` (one setting per direction, never per
    # query; see docs/signals.md): c2p-dev for enterprise->patent, p2c-dev for patent->enterprise,
    # kw2p-dev (short keyword needs) for free text -> patents. Free text -> enterprises has no benchmark
    # and follows patent->enterprise, since such text describes a technology. The "portfolio" weights (the
    # patents an enterprise already holds; inactive unless applicants name indexed enterprises) were chosen on
    # top of those settings with `matcher lab bench-portfolio` (ownership held out by fold; docs/signals.md).
    # The "activity" weight (an enterprise's patent-activity percentile; inactive unless `activity_model` is set)
    # was chosen on p2c-dev with models cross-validated over the dev companies (`matcher lab train-activity
    # --cross-validate`); free text -> enterprises leaves it out (no benchmark, and a demand is not a company).
    # The "reciprocal" weight (where a stored enterprise stands in each candidate patent's own patent -> enterprise
    # list, matcher.rank.reciprocal) was chosen on c2p-dev with the enterprises asked as stored records
    # (`matcher lab evaluate --query-records`); pasted text gets no such evidence.
    return {
        Direction.ENTERPRISE_TO_PATENT: FusionConfig(method="rrf", weights={"dense": 0.25, "bm25": 0.25, "items": 0.5, "portfolio": 1.0,
                                                                           "reciprocal": 1.0}),
        Direction.PATENT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.0, "bm25": 0.5, "items": 0.5, "portfolio": 0.5,
                                                              "activity": 2.0}),
        Direction.TEXT_TO_PATENT: FusionConfig(weights={"dense": 0.25, "bm25": 0.5, "phrase": 1.0}, query_segment_mode="accurate"),
        Direction.TEXT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.0, "bm25": 0.5, "items": 0.5}),
    }


def trained_fusion() -> dict[Direction, FusionConfig]:
    """The default fusion with the trained models: config/ensemble.json's settings (chosen for the trained encoder
    and the activity prior on the dev benchmarks, cross-validated; docs/evaluation.md); free text -> patents keeps
    the default."""
    return {
        **_default_fusion(),
        Direction.ENTERPRISE_TO_PATENT: FusionConfig(method="rrf", weights={"dense": 0.5, "bm25": 0.25, "items": 1.0,
                                                                           "portfolio": 2.0, "reciprocal": 2.0}),
        Direction.PATENT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.5, "bm25": 0.25, "items": 1.0, "portfolio": 1.0,
                                                              "activity": 3.0}),
        Direction.TEXT_TO_ENTERPRISE: FusionConfig(weights={"dense": 0.5, "bm25": 0.25, "items": 1.0}),
    }


def trained_models() -> tuple[Path, Path] | None:
    """The trained default models, when both are there: (static encoder folder, activity model folder).

    They are looked for in env MATCHER_MODELS_DIR, else models/ (`patent-static`, `activity`), where README's
    command 1 trains them (`matcher lab train-default`) and where `matcher train --from-index` /
    `matcher train-activity --from-index` can put an office's own.

    Returns:
        The two folders, or None when either is missing or incomplete.
    """
    folder = Path(os.environ.get("MATCHER_MODELS_DIR") or PROJECT_ROOT / "models")
    encoder, activity = folder / "patent-static", folder / "activity"
    if (encoder / "modules.json").is_file() and (activity / "activity.json").is_file():
        return encoder, activity
    return None


@lru_cache(maxsize=None)
def _say(message: str) -> None:
    """Log which default serves, once per process (the CLI shows it as a note on stderr)."""
    logger.warning(message)


def _default_encoder() -> str:
    """Env MATCHER_ENCODER, else `TRAINED_ENCODER_SPEC` when the trained models are there, else USE-m3 (each choice
    said once in the log)."""
    if os.environ.get("MATCHER_ENCODER"):
        return os.environ["MATCHER_ENCODER"]
    found = trained_models()
    if found is None:
        folder = os.environ.get("MATCHER_MODELS_DIR") or "models/"
        _say(f"no trained default models in {folder} (patent-static and activity): USE-m3 serves, without the activity "
             "prior; train them with `matcher lab train-default` (from ../shared) or `matcher train --from-index` and "
             "`matcher train-activity --from-index` (your own index), then rebuild")
        return "use-m3"
    spec = TRAINED_ENCODER_SPEC.format(encoder=found[0])
    _say(f"the trained default models serve (config/ensemble.json's settings): encoder {spec}, activity model {found[1]}")
    return spec


class MatcherConfig(BaseModel):
    """Everything that determines how the engine builds indexes and ranks (each field is described in `Field`;
    docs/configuration.md is generated from them)."""

    encoder: str = Field(
        default_factory=_default_encoder,
        description='"use-m3" (Universal Sentence Encoder Multilingual v3), a path to a local sentence-transformers '
                    'model directory, or an ensemble ("use-m3+DIR"). Default: env MATCHER_ENCODER, else USE-m3 with '
                    "the trained static encoder models/patent-static (config/ensemble.json's encoder) when models/ "
                    "(env MATCHER_MODELS_DIR) holds it and the activity model (the activity model and the trained "
                    'fusion below then come with it), else "use-m3"; the build says which.')
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("MATCHER_CACHE_DIR", PROJECT_ROOT / "artifacts" / "cache")),
        description="Embedding cache directory (keyed by model id and text hash). Default: env MATCHER_CACHE_DIR, "
                    "else artifacts/cache.")
    segment_mode: Literal["search", "accurate"] = Field(
        "search", description='jieba mode for the documents\' BM25 terms: "search" (words plus their in-vocabulary '
                              'sub-words) or "accurate" (one segmentation).')
    bm25_k1: float = Field(1.2, description="BM25 term-frequency saturation (stored with the index when it is built).")
    bm25_b: float = Field(0.75, description="BM25 document-length normalisation (stored with the index when it is "
                                            "built).")
    dense_backend: Literal["auto", "flat", "ivf", "hnsw"] = Field(
        "auto", description='Vector index: "auto" (exact inner product up to `exact_limit` vectors, IVF above), '
                            '"flat", "ivf" or "hnsw".')
    exact_limit: int = Field(200_000, description='The size up to which dense_backend "auto" keeps an exact index.')
    ivf_nprobe: int = Field(32, ge=1, description="Lists an IVF index scans per query (the records and scope items of "
                                                  "a side larger than `exact_limit`): more finds more of the exact "
                                                  "nearest neighbours, slower (docs/performance.md). A search setting: "
                                                  "it can change without building the index again.")
    vector_storage: Literal["auto", "float32", "float16"] = Field(
        "auto", description='How the vectors are kept, in memory and in the index files: "float32", "float16" (half '
                            "the memory and disk of the vectors; scores move by about 1e-3, so a few near-tied pairs "
                            'may swap places) or "auto": float16 for the vectors of a side or of its scope items that '
                            "number more than `exact_limit` when the index is built (where the search goes "
                            "approximate too), float32 for the others; decided again by a full build. The saved vector "
                            "files are memory-mapped on load either way.")
    pool: int = Field(200, description="Candidates taken from each retriever before fusion (grown when filters "
                                       "remove too many).")
    fusion: dict[Direction, FusionConfig] = Field(
        default_factory=_default_fusion,
        description="Fusion settings per direction (enterprise->patent, patent->enterprise, text->patent, "
                    "text->enterprise); a direction left out keeps its default. With the trained default models "
                    "the defaults are config/ensemble.json's (matcher.config.trained_fusion).")
    key_terms: int = Field(5, description="How many shared key terms an explanation lists (the informative ones: see matcher.explain).")
    items_top_m: int = Field(3, description="Best-item scoring averages this many best scope / demand items.")
    exclude_held: bool = Field(
        True, description="Never push a patent to an enterprise that already holds it (applicant = enterprise name, "
                          "see matcher.index.portfolio), in either direction.")
    only_pushable: bool = Field(
        True, description="Leave out of every search towards patents (workbench, nightly export) the patents that may "
                          "not be pushed: expired, withdrawn, rejected or invalid by their legal status or term "
                          "(matcher.grading.term), and, once the index is graded, the duplicates merged into another "
                          "record (tier E). False: rank them too (e.g. for an office reviewing its stock); their cards "
                          "then say 已失效（不推送） and the export's patent_tier is E.")
    activity_model: Path | None = Field(
        None, description="A patent-activity model directory (`matcher train-activity`, matcher.rank.activity); with it, "
                          'patent -> enterprise ranking can weight "activity", each enterprise\'s percentile of looking '
                          "like the enterprises that file patents. None: no such signal. Default: models/activity "
                          "when the trained default encoder serves, else None.")
    reciprocal_depth: int = Field(
        1000, ge=1,
        description='How many enterprises each patent\'s list keeps for the "reciprocal" signal of enterprise -> patent '
                    "(a stored enterprise's rank in a candidate patent's own list; see matcher.rank.reciprocal); the "
                    "lists are ranked once per change of the data or of these settings.")
    confidence_model: Path | None = Field(
        None,
        description="A match-confidence model (JSON, `matcher lab judged calibrate`; matcher.rank.confidence): searches "
                    "towards patents then attach each match's calibrated chance of being related or better "
                    "(`Match.confidence`) and the list's verdict (有合适专利 / 仅有相关专利 / 未找到合适专利); the "
                    "ranking is unchanged; the nightly export then leaves out enterprise -> patent pairs below the model's "
                    "threshold unless `matcher match --keep-unconfident`. Used only with the encoder it was fitted "
                    "with. The model fitted on the judged demand -> patent benchmark, "
                    "matcher/rank/resources/confidence-d2p.json, tells related from unrelated pairs only a little "
                    "better than chance (docs/judging.md), so it is opt-in. Default None: no confidence.")

    @model_validator(mode="after")
    def _trained_profile(self) -> MatcherConfig:
        """With the trained default encoder, the activity model and the trained fusion are the defaults too (fields
        set explicitly win; neither counts as set, so an index's saved configuration still wins over them)."""
        found = trained_models()
        if found is not None and self.encoder == TRAINED_ENCODER_SPEC.format(encoder=found[0]):
            if "activity_model" not in self.model_fields_set:
                object.__setattr__(self, "activity_model", found[1])
            if "fusion" not in self.model_fields_set:
                object.__setattr__(self, "fusion", trained_fusion())
        return self

    def fusion_for(self, direction: Direction) -> FusionConfig:
        """The fusion settings of one direction (falls back to the defaults)."""
        return self.fusion.get(direction) or _default_fusion()[direction]


def default(field: str):
    """The default of one MatcherConfig field (lower layers take their defaults from here, never their own).

    Args:
        field: the field name, e.g. "bm25_k1".

    Returns:
        The field's default value (a default factory is called).
    """
    info = MatcherConfig.model_fields[field]
    return info.get_default(call_default_factory=True)


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
