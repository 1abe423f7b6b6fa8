"""Who was contacted when: each enterprise's last push and pushes in the last week, from the tracking database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from matcher.tracking import PENDING, TrackingStore
from matcher.tracking.service import utcnow


@dataclass(frozen=True)
class Contact:
    """An enterprise's outreach so far.

    Attributes:
        last: when it was last pushed a patent (naive UTC), None if never.
        week: pushes (and pairs queued as 待推送) in the 7 days before `now`.
        pairs: patent ids already on the shortlist with it.
    """

    last: datetime | None
    week: int
    pairs: frozenset[str]


def contact_history(store: TrackingStore | None, now: datetime | None = None) -> dict[str, Contact]:
    """Every enterprise's contacts from the shortlist: a push counts at `pushed_at`; a pair still 待推送 counts in the
    week it was queued (it is about to be pushed).

    Args:
        store: the tracking store (None: no history).
        now: the reference time (naive UTC; default now).

    Returns:
        enterprise id -> Contact.
    """
    if store is None:
        return {}
    frame = store.frame()
    if frame.empty:
        return {}
    now = now or utcnow()
    week_start = now - timedelta(days=7)
    pushed = pd.to_datetime(frame["pushed_at"])
    queued = pd.to_datetime(frame["created_at"]).where(frame["status"] == PENDING)
    when = pushed.fillna(queued)
    frame = frame.assign(_when=when, _week=(when >= week_start) & (when <= now))
    out: dict[str, Contact] = {}
    for eid, group in frame.groupby("enterprise_id"):
        last = group["_when"].where(group["pushed_at"].notna()).max()
        out[str(eid)] = Contact(None if pd.isna(last) else last.to_pydatetime(), int(group["_week"].sum()),
                                frozenset(group["patent_id"].astype(str)))
    return out


def blocked(contact: Contact | None, now: datetime, skip_days: int, weekly_cap: int) -> str:
    """Why an enterprise must not be contacted now ("" when it may).

    Args:
        contact: its history (None: never contacted).
        now: the reference time.
        skip_days: skip an enterprise pushed within this many days (0: never skip for that).
        weekly_cap: skip an enterprise with this many pushes in the last 7 days (0: no cap).

    Returns:
        A Chinese reason, or "".
    """
    if contact is None:
        return ""
    if skip_days > 0 and contact.last is not None and now - contact.last < timedelta(days=skip_days):
        return f"{(now - contact.last).days} 天前已联系（{skip_days} 天内不重复联系）"
    if weekly_cap > 0 and contact.week >= weekly_cap:
        return f"本周已推送 {contact.week} 次（每周上限 {weekly_cap}）"
    return ""
