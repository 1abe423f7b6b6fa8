"""Grades with provenance for every patent (成熟度, 应用场景, 产业化前景, tier) and the grades table beside the index."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

from matcher.errors import MatcherError, NotBuiltError
from matcher.grading.duplicates import find_duplicates
from matcher.grading.maturity import LEVELS, level_index, normalize_maturity
from matcher.grading.models import GradingModels
from matcher.grading.prospects import level_probabilities, prospect, sector_demand
from matcher.grading.term import life
from matcher.grading.tiers import tier
from matcher.grading.verdicts import Verdicts
from matcher.index.atomic import atomic_write_bytes, readable_dir
from matcher.index.lock import writer_lock
from matcher.schema import Kind, record_text
from matcher.sectors.assign import assign_sectors
from matcher.sectors.chains import Chain
from matcher.sectors.classifier import TextClassifier

GRADES_FILE = "grades.parquet"
"""The grades table, in the index folder (a later build or upsert replaces the folder: grade again after one)."""
SELF = "自评（输入）"
MODEL = "模型估计"
VERDICT = "企业反馈"
GRADE_COLUMNS = (
    "id", "maturity", "maturity_confidence", "maturity_source",
    "section", "section_code", "section_confidence", "section_source", "division", "division_confidence",
    "division_source", "chains", "scenes", "scenes_source",
    "prospect", "prospect_reason", "prospect_source", "tier", "tier_reason",
    "pushable", "pushable_reason", "legal_state", "patent_type", "remaining_years", "duplicate_of",
    "verdicts", "graded_at",
)


def demand_counts(sectors: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Demands per 门类 and per 大类 among enterprises' assigned sectors (assign_sectors rows)."""
    by_section = sectors.loc[sectors["section"].ne(""), "section"].value_counts().to_dict()
    by_division = sectors.loc[sectors["division"].ne(""), "division"].value_counts().to_dict()
    return by_section, by_division


def _maturity(record: dict, proba: Mapping[str, float] | None, verdicts: Verdicts | None) -> tuple[str, float, str, dict]:
    """(level, confidence, source, level -> probability) of one patent."""
    given = normalize_maturity(record.get("maturity"))
    if given:
        level, confidence, source, dist = given, 1.0, SELF, {given: 1.0}
    elif proba:
        level = max(proba, key=proba.get)
        level, confidence, source, dist = level, proba[level], MODEL, dict(proba)
    else:
        return "", 0.0, "无", {}
    if verdicts is not None and verdicts.immature and not verdicts.success and level_index(level) > 0:
        lower = LEVELS[level_index(level) - 1]
        source += f"；{VERDICT}：技术不成熟 {verdicts.immature} 次，由{level}下调"
        level, dist = lower, {lower: 1.0}
    elif verdicts is not None and verdicts.success:
        source += f"；{VERDICT}：已许可/转让 {verdicts.success} 次"
    return level, confidence, source, dist


def grade_patents(patents: pd.DataFrame, models: GradingModels | None = None, *,
                  demands: pd.DataFrame | None = None, verdicts: Mapping[str, Verdicts] | None = None,
                  chains: Sequence[Chain] | None = None, today: date | None = None) -> pd.DataFrame:
    """Grade every patent, each grade with where it came from.

    技术成熟度: the input's `maturity` (自评（输入）), else the maturity model (模型估计, its probability); enterprises'
    技术不成熟 refusals lower it one level. 应用场景: the input's `scenes`, else the sectors (matcher.sectors) and
    chains. 产业化前景: the input's `prospect`, else matcher.grading.prospects. The tier rolls them up
    (matcher.grading.tiers); expired, withdrawn, invalid and duplicate patents are tier E and not pushable.

    Args:
        patents: patent records (canonical columns).
        models: the grading models (None: input evaluations, IPC and rules only).
        demands: enterprise / demand records, whose sectors count the demand for each patent's sector.
        verdicts: patent id -> enterprises' verdicts (matcher.grading.verdicts.verdicts_by_patent).
        chains: industry chains (matcher.sectors.load_chains).
        today: the reference day of the remaining terms.

    Returns:
        GRADE_COLUMNS, one row per patent, in the frame's order.
    """
    today = today or date.today()
    verdicts = verdicts or {}
    records = patents.to_dict("records")
    tokens = TextClassifier.tokens([record_text(r, Kind.PATENT) for r in records]) if models is not None else None
    sectors = assign_sectors(patents, models.sectors if models else None, kind=Kind.PATENT, chains=chains, tokens=tokens)
    proba = models.maturity.predict_proba(tokens) if models is not None and records else None
    if demands is not None and len(demands):
        by_section, by_division = demand_counts(assign_sectors(demands, models.sectors if models else None,
                                                               kind=Kind.ENTERPRISE))
    else:
        by_section, by_division = {}, {}
    duplicates = dict(zip(*find_duplicates(patents)[["id", "duplicate_of"]].T.to_numpy())) if records else {}
    stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    rows = []
    for i, record in enumerate(records):
        rid = str(record["id"])
        seen = verdicts.get(rid)
        level, confidence, source, dist = _maturity(
            record, level_probabilities(models.maturity.classes, proba[i]) if proba is not None else None, seen)
        s = sectors.iloc[i]
        legal = life(record, today)
        pushable, why = legal.pushable, legal.reason
        if rid in duplicates:
            pushable, why = False, f"与 {duplicates[rid]} 重复（已合并）"
        demand = sector_demand(s["section"], s["division"], by_section, by_division)
        p = prospect(dist, legal, demand, str(record.get("license_mode") or ""), seen, str(record.get("prospect") or ""))
        t, t_reason = tier(p.score, level, pushable, why)
        scenes_given = str(record.get("scenes") or "").strip()
        scenes = scenes_given or "；".join(x for x in (
            "/".join(v for v in (s["section"], s["division"]) if v), str(record.get("industry") or ""),
            s.get("chains", "") or "") if x)
        rows.append({
            "id": rid, "maturity": level, "maturity_confidence": round(confidence, 3), "maturity_source": source,
            **{c: s[c] for c in ("section", "section_code", "section_confidence", "section_source", "division",
                                 "division_confidence", "division_source")},
            "chains": s.get("chains", "") or "", "scenes": scenes,
            "scenes_source": SELF if scenes_given else "行业与产业链",
            "prospect": p.score, "prospect_reason": p.reason, "prospect_source": p.source,
            "tier": t, "tier_reason": t_reason, "pushable": pushable, "pushable_reason": why,
            "legal_state": legal.status, "patent_type": legal.patent_type,
            "remaining_years": None if legal.remaining_years is None else round(legal.remaining_years, 1),
            "duplicate_of": duplicates.get(rid, ""), "verdicts": seen.describe() if seen else "未推送",
            "graded_at": stamp,
        })
    out = pd.DataFrame(rows, columns=list(GRADE_COLUMNS))
    for column in ("section_confidence", "division_confidence"):
        out[column] = out[column].astype(float).round(3)
    return out


def write_grades(index_dir: str | Path, grades: pd.DataFrame, *, lock_timeout: float | None = None) -> Path:
    """Store the grades table in the index folder (GRADES_FILE), atomically and under the index's writer lock.

    Args:
        index_dir: the index folder (it must exist).
        grades: `grade_patents` output.
        lock_timeout: seconds to wait for another writer.

    Returns:
        The file written.

    Raises:
        NotBuiltError: there is no index folder.
        MatcherError: the lock was not free in time or the file cannot be written.
    """
    index_dir = Path(index_dir)
    buffer = io.BytesIO()
    grades.to_parquet(buffer, index=False)
    with writer_lock(index_dir, timeout=lock_timeout):
        if not index_dir.is_dir():
            raise NotBuiltError(f"no index at {index_dir}: run `matcher build` first")
        try:
            atomic_write_bytes(index_dir / GRADES_FILE, buffer.getvalue())
        except OSError as exc:
            raise MatcherError(f"cannot write the grades at {index_dir / GRADES_FILE} ({exc})") from None
    return index_dir / GRADES_FILE


def grades_by_id(grades: pd.DataFrame) -> pd.DataFrame:
    """The grades table indexed by patent id as text (the last row of an id that appears twice)."""
    rows = grades.drop_duplicates("id", keep="last")
    return rows.set_index(rows["id"].astype(str))


def read_grades(index_dir: str | Path) -> pd.DataFrame:
    """The grades table stored beside an index (`matcher grade --index DIR` writes it).

    Args:
        index_dir: the index folder.

    Returns:
        GRADE_COLUMNS, one row per graded patent.

    Raises:
        NotBuiltError: the index has no grades (never graded, or rebuilt since).
    """
    path = readable_dir(index_dir) / GRADES_FILE
    if not path.is_file():
        raise NotBuiltError(f"no grades at {Path(index_dir)}: run `matcher grade --index {index_dir}` "
                            "(a build or upsert replaces the index folder and its grades)")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise MatcherError(f"the grades at {path} cannot be read ({exc}): run `matcher grade --index` again") from None
