"""Outreach statuses, refusal reason codes and the allowed status transitions."""

from __future__ import annotations

PENDING = "待推送"
PUSHED = "已推送"
REPLIED = "已回复"
NEGOTIATING = "洽谈中"
LICENSED = "已许可"
TRANSFERRED = "已转让"
REJECTED = "已拒绝"

# In funnel order; the two successful outcomes and the refusal are terminal-ish end states.
STATUSES: tuple[str, ...] = (PENDING, PUSHED, REPLIED, NEGOTIATING, LICENSED, TRANSFERRED, REJECTED)
SUCCESS: tuple[str, ...] = (LICENSED, TRANSFERRED)
# The stages of the funnel: an item "reached" a stage when its history contains it.
FUNNEL: tuple[str, ...] = (PENDING, PUSHED, REPLIED, NEGOTIATING)

REASONS: tuple[str, ...] = ("技术不成熟", "需求不符", "价格", "已有方案", "其他")

# status -> statuses it may move to (a refusal may come at any open stage; a refused pair may be reopened)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PENDING: (PUSHED, REJECTED),
    PUSHED: (REPLIED, REJECTED),
    REPLIED: (NEGOTIATING, REJECTED),
    NEGOTIATING: (LICENSED, TRANSFERRED, REJECTED),
    LICENSED: (),
    TRANSFERRED: (),
    REJECTED: (PENDING,),
}

# A pair counts as "already contacted" once it has been pushed (any status after 待推送).
CONTACTED: tuple[str, ...] = (PUSHED, REPLIED, NEGOTIATING, LICENSED, TRANSFERRED, REJECTED)


def allowed_next(status: str) -> tuple[str, ...]:
    """The statuses an item in `status` may move to."""
    return TRANSITIONS.get(status, ())

# A patent's licence terms as editors set them in the workbench (matcher.tracking.terms); "" = not set.
LICENCE_MODES: tuple[str, ...] = ("开放许可", "先使用后付费", "独占", "普通")
MATURITY_LEVELS: tuple[str, ...] = ("正在研发", "通过小试", "通过中试", "已有样品", "可以量产")
# Statuses whose pair needs no further follow-up (the 待办 list leaves them out).
CLOSED: tuple[str, ...] = (LICENSED, TRANSFERRED, REJECTED)
