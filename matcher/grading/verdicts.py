"""Enterprises' verdicts on patents, read from outcome rows (the tracking database's items), as grading evidence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SUCCESS = ("已许可", "已转让")
ENGAGED = ("已回复", "洽谈中")
REJECTED = "已拒绝"
IMMATURE = "技术不成熟"
PUSHED = ("已推送", "已回复", "洽谈中", "已许可", "已转让", "已拒绝")


@dataclass(frozen=True)
class Verdicts:
    """What enterprises said about one patent.

    Attributes:
        pushed: pairs pushed (any status after 待推送).
        engaged: replied or negotiating.
        success: licensed or transferred.
        rejected: refused, any reason.
        immature: refused because the technology is immature (技术不成熟).
    """

    pushed: int = 0
    engaged: int = 0
    success: int = 0
    rejected: int = 0
    immature: int = 0

    def describe(self) -> str:
        """A short Chinese summary, e.g. "推送 3 次：许可/转让 1，拒绝 1（技术不成熟 1）"."""
        if not self.pushed:
            return "未推送"
        parts = [f"许可/转让 {self.success}"] if self.success else []
        if self.engaged:
            parts.append(f"洽谈/回复 {self.engaged}")
        if self.rejected:
            parts.append(f"拒绝 {self.rejected}" + (f"（技术不成熟 {self.immature}）" if self.immature else ""))
        return f"推送 {self.pushed} 次" + ("：" + "，".join(parts) if parts else "")


def verdicts_by_patent(rows: Iterable[Mapping]) -> dict[str, Verdicts]:
    """Count each patent's outcomes.

    Args:
        rows: outcome rows with patent_id, status and reason (e.g. `TrackingStore.frame().to_dict("records")`;
            any source with these keys will do).

    Returns:
        patent id -> its Verdicts (patents without a pushed row are absent).
    """
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        status = str(row.get("status") or "")
        if status not in PUSHED:
            continue
        c = counts.setdefault(str(row.get("patent_id")), dict.fromkeys(Verdicts.__dataclass_fields__, 0))
        c["pushed"] += 1
        c["engaged"] += status in ENGAGED
        c["success"] += status in SUCCESS
        c["rejected"] += status == REJECTED
        c["immature"] += status == REJECTED and str(row.get("reason") or "") == IMMATURE
    return {pid: Verdicts(**c) for pid, c in counts.items()}
