"""The follow-up list (待办): open pairs whose next-action date falls in this week or has passed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from matcher.tracking.constants import CLOSED
from matcher.tracking.service import Item, TrackingStore

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_today() -> date:
    """Today's date in Beijing."""
    return datetime.now(BEIJING).date()


def week_end(today: date) -> date:
    """The Sunday of `today`'s week (weeks run Monday to Sunday)."""
    return today + timedelta(days=6 - today.weekday())


def due_items(store: TrackingStore, today: date | None = None) -> list[Item]:
    """Open items (not 已许可 / 已转让 / 已拒绝) whose next action is due by the end of this week or overdue.

    Args:
        store: the tracking store.
        today: the reference day (None: today in Beijing).

    Returns:
        The items, the most overdue first (by next-action date, then id).
    """
    today = today or beijing_today()
    end = week_end(today)
    due = [i for i in store.items() if i.next_action is not None and i.next_action <= end and i.status not in CLOSED]
    return sorted(due, key=lambda i: (i.next_action, i.id))


def overdue_count(store: TrackingStore, today: date | None = None) -> int:
    """How many open items have a next-action date before today (Beijing)."""
    today = today or beijing_today()
    return sum(1 for i in due_items(store, today) if i.next_action < today)
