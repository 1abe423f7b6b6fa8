"""The office's columns of the nightly export: each pair's patent grades and licence fit beside the ranking."""

from __future__ import annotations

import pandas as pd

from matcher.engine import Matcher
from matcher.grading.grades import grades_by_id
from matcher.office.licence_fit import ENTERPRISE_TERMS, PATENT_TERMS, fit_columns
from matcher.schema import Direction, Kind

GRADE_EXPORT = {"patent_tier": "tier", "patent_tier_reason": "tier_reason", "patent_maturity_grade": "maturity",
                "patent_maturity_source": "maturity_source", "patent_prospect": "prospect"}
"""Export column -> grades column (matcher.grading.grades); blank when the index was never graded."""
LICENCE_EXPORT = ("licence_fit", "licence_line", "free_first")
"""The pair's licence fit (契合 / 可协商 / 不符 / 未知), its card line, and why the enterprise may be offered 先免费后有偿."""
OFFICE_COLUMNS = (*GRADE_EXPORT, *LICENCE_EXPORT)


def office_columns(matcher: Matcher, direction: Direction | str, frame: pd.DataFrame) -> pd.DataFrame:
    """Add OFFICE_COLUMNS to one direction's export rows (the NightlyJob's `annotate` step).

    Args:
        matcher: the loaded index (its patents' grades and both sides' records).
        direction: the rows' direction.
        frame: export rows (query_id, target_id, ...).

    Returns:
        A copy with the grade and licence-fit columns appended (the frame itself when it has no rows).
    """
    if frame.empty:
        return frame
    direction = Direction(direction)
    patent_col, enterprise_col = ("target_id", "query_id") if direction.target == Kind.PATENT else ("query_id", "target_id")
    out = frame.copy()
    patent_ids = out[patent_col].astype(str)
    grades = matcher.grades()
    by_id = grades_by_id(grades) if grades is not None else None
    for column, source in GRADE_EXPORT.items():
        values = patent_ids.map(by_id[source]) if by_id is not None else pd.Series(None, index=out.index, dtype=object)
        out[column] = (pd.to_numeric(values, errors="coerce") if column == "patent_prospect" else values.fillna("")).to_numpy()
    pairs = pd.DataFrame({"patent_id": patent_ids.to_numpy(), "enterprise_id": out[enterprise_col].astype(str).to_numpy()})
    fits = fit_columns(pairs, _records(matcher, Kind.ENTERPRISE, pairs["enterprise_id"], ENTERPRISE_TERMS),
                       _records(matcher, Kind.PATENT, pairs["patent_id"], PATENT_TERMS))
    for column in LICENCE_EXPORT:
        out[column] = fits[column].to_numpy()
    return out


def _records(matcher: Matcher, kind: Kind, ids: pd.Series, columns: tuple[str, ...]) -> dict[str, dict]:
    """id -> the given columns (those it has) of the indexed records of one kind among `ids`."""
    coll = matcher.get(kind)
    if coll is None or not len(coll):
        return {}
    records = coll.records
    records = records[records["id"].astype(str).isin(set(ids))]
    names = [c for c in columns if c in records]
    # plain object arrays zipped (a frame's to_dict walks its string columns value by value: 11 s at 201,725 records)
    values = [records[c].astype(object).to_numpy() for c in names]
    return {i: dict(zip(names, row)) for i, row in zip(records["id"].astype(str).tolist(), zip(*values))}
