"""Sector (GB/T 4754 门类) and chain labels of patents and enterprises for catalogues, campaigns and push lists: the
grades table's when the index was graded, else matcher.sectors' assignment (labels, IPC, the trained sector model)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from matcher.errors import MatcherError
from matcher.grading.grades import read_grades
from matcher.grading.models import DEFAULT_MODELS
from matcher.schema import Kind
from matcher.sectors import Chain, SectorModel, assign_sectors

UNLABELLED = "未标注"
log = logging.getLogger("matcher.office")


@functools.lru_cache(maxsize=4)
def _model(directory: str) -> SectorModel | None:
    path = Path(directory) / "sectors"
    if not path.is_dir():
        return None
    try:
        return SectorModel.load(path)
    except (MatcherError, OSError, ValueError) as exc:
        log.warning("sector model at %s not used: %s", path, exc)
        return None


def sector_model(models_dir: str | Path | None = None) -> SectorModel | None:
    """The trained sector model (`matcher grade` saves it under models/grading), or None when there is none."""
    return _model(str(models_dir or DEFAULT_MODELS))


def sector_table(records: pd.DataFrame, kind: Kind | str, *, index_dir: str | Path | None = None,
                 models_dir: str | Path | None = None, chains: Sequence[Chain] | None = None) -> pd.DataFrame:
    """Each record's 门类, 大类 and chains.

    Patents of a graded index take the grades table's (`matcher grade --index`); everything else is assigned by
    `matcher.sectors.assign_sectors` from its own label, its IPC and the trained sector model when present.

    Args:
        records: patent or enterprise records (canonical columns).
        kind: their kind.
        index_dir: the index folder holding grades.parquet (patents only).
        models_dir: the grading models' folder (default models/grading).
        chains: industry chains (`matcher.sectors.load_chains`); without them `chains` is "".

    Returns:
        Columns id, section (未标注 when unknown), division, chains; the records' index.
    """
    kind = Kind(kind)
    out = pd.DataFrame({"id": records["id"].astype(str).to_numpy(), "section": "", "division": "", "chains": ""},
                       index=records.index)
    if records.empty:
        return out
    todo = pd.Series(True, index=records.index)
    if kind == Kind.PATENT and index_dir is not None:
        try:
            grades = read_grades(index_dir).drop_duplicates("id").set_index("id")
        except MatcherError:
            grades = None
        if grades is not None:
            known = out["id"].isin(grades.index)
            rows = grades.reindex(out.loc[known, "id"])
            out.loc[known, "section"] = rows["section"].fillna("").to_numpy()
            out.loc[known, "division"] = rows["division"].fillna("").to_numpy()
            if "chains" in rows and chains is None:
                out.loc[known, "chains"] = rows["chains"].fillna("").to_numpy()
            todo = ~known if chains is None else todo
    if todo.any():
        assigned = assign_sectors(records[todo], sector_model(models_dir), kind=kind, chains=chains)
        keep_section = out.loc[todo, "section"].eq("")
        out.loc[todo, "section"] = out.loc[todo, "section"].where(~keep_section, assigned["section"])
        out.loc[todo, "division"] = out.loc[todo, "division"].where(~keep_section, assigned["division"])
        if chains:
            out.loc[todo, "chains"] = assigned["chains"]
    out["section"] = out["section"].replace("", UNLABELLED)
    return out


def sector_labels(records: pd.DataFrame, kind: Kind | str = Kind.ENTERPRISE, **kwargs) -> pd.Series:
    """Each record's 门类 (未标注 when unknown), aligned with `records` (see `sector_table`)."""
    return sector_table(records, kind, **kwargs)["section"]

