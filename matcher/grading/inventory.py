"""盘点入库: the stock per applicant, sector and tier: how many patents, alive, pushed and with what outcome."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from matcher.grading.duplicates import find_duplicates
from matcher.grading.verdicts import verdicts_by_patent

COUNT_COLUMNS = ("patents", "alive", "not_pushable", "pushed", "success", "rejected")
"""Per group: unique patents (duplicates merged), alive (legal status and term allow pushing), not pushable
(expired, withdrawn, invalid), pushed at least once, licensed / transferred, refused."""
_SPLIT = re.compile(r"[;；、]")


@dataclass
class Inventory:
    """The stock in numbers.

    Attributes:
        totals: the COUNT_COLUMNS over all unique patents, plus records (before merging) and duplicates.
        by_applicant: COUNT_COLUMNS per applicant (a patent of several applicants counts for each), with its type.
        by_sector: COUNT_COLUMNS per 门类.
        by_tier: COUNT_COLUMNS per tier.
        duplicates: the merged records (id, duplicate_of, rule).
        not_pushable: the flagged patents (id, title, reason).
    """

    totals: dict[str, int]
    by_applicant: pd.DataFrame
    by_sector: pd.DataFrame
    by_tier: pd.DataFrame
    duplicates: pd.DataFrame
    not_pushable: pd.DataFrame

    def summary(self) -> dict:
        """The JSON summary of `matcher inventory --json`."""
        def counts(frame: pd.DataFrame, key: str) -> dict:
            return {str(r[key]): {c: int(r[c]) for c in COUNT_COLUMNS} for r in frame.to_dict("records")}
        return {"totals": self.totals, "by_tier": counts(self.by_tier, "tier"),
                "by_sector": counts(self.by_sector, "section"),
                "duplicates": [{k: str(v) for k, v in r.items()} for r in self.duplicates.to_dict("records")],
                "not_pushable": len(self.not_pushable)}


def _counts(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    grouped = frame.groupby(key, sort=False)[list(COUNT_COLUMNS)].sum().reset_index()
    return grouped.sort_values(["patents", key], ascending=[False, True]).reset_index(drop=True)


def take_inventory(patents: pd.DataFrame, grades: pd.DataFrame, outcomes: Iterable[Mapping] = ()) -> Inventory:
    """Count the stock.

    Args:
        patents: the indexed patent records (canonical columns).
        grades: their grades (matcher.grading.grades: id, section, tier, pushable, pushable_reason, duplicate_of).
        outcomes: outcome rows (patent_id, status, reason), e.g. the tracking database's items; none: nothing pushed.

    Returns:
        The Inventory; duplicates count once (their first record) and are listed with the rule that merged them.
    """
    verdicts = verdicts_by_patent(outcomes)
    duplicates = find_duplicates(patents)
    merged = set(duplicates["id"])
    g = grades.set_index("id")
    rows = []
    for record in patents.to_dict("records"):
        rid = str(record["id"])
        if rid in merged:
            continue
        grade = g.loc[rid] if rid in g.index else None
        seen = verdicts.get(rid)
        reason = str(grade["pushable_reason"]) if grade is not None else ""
        alive = bool(grade["pushable"]) if grade is not None else True
        rows.append({"id": rid, "title": record.get("title", ""),
                     "applicant": str(record.get("applicant") or "").strip() or "（未填申请人）",
                     "applicant_type": str(record.get("applicant_type") or ""),
                     "section": (str(grade["section"]) if grade is not None else "") or "未分类",
                     "tier": str(grade["tier"]) if grade is not None else "未分级",
                     "patents": 1, "alive": int(alive), "not_pushable": int(not alive), "reason": reason,
                     "pushed": int(bool(seen and seen.pushed)), "success": int(bool(seen and seen.success)),
                     "rejected": int(bool(seen and seen.rejected))})
    frame = pd.DataFrame(rows, columns=["id", "title", "applicant", "applicant_type", "section", "tier",
                                        *COUNT_COLUMNS, "reason"])
    per_applicant = frame.assign(applicant=frame["applicant"].map(lambda a: [x.strip() for x in _SPLIT.split(a) if x.strip()]))
    per_applicant = per_applicant.explode("applicant")
    by_applicant = _counts(per_applicant, "applicant")
    types = per_applicant.groupby("applicant")["applicant_type"].first()
    by_applicant.insert(1, "applicant_type", by_applicant["applicant"].map(types).fillna(""))
    totals = {c: int(frame[c].sum()) for c in COUNT_COLUMNS}
    totals.update(records=len(patents), duplicates=len(duplicates))
    return Inventory(totals, by_applicant, _counts(frame, "section"),
                     _counts(frame, "tier").sort_values("tier").reset_index(drop=True), duplicates,
                     frame.loc[frame["not_pushable"].eq(1), ["id", "title", "reason"]].reset_index(drop=True))
