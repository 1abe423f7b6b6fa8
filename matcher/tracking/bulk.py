"""Batch changes of several outreach items: each item changed on its own, versioned and in its history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from matcher.tracking.service import Actor, Item, PermissionDeniedError, TrackingError, TrackingStore


@dataclass
class BatchOutcome:
    """What a batch change did: the items changed, those already so, and those refused with the reason."""

    changed: list[Item] = field(default_factory=list)
    unchanged: list[Item] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def update_many(store: TrackingStore, loaded: Iterable[tuple[int, int]], *, user: Actor | str,
                status: str | None = None, owner: str | None = None, reason: str | None = None) -> BatchOutcome:
    """Move several items to one status and/or give them one owner.

    Each item goes through `TrackingStore.update` with the version the officer saw, so each change is a new version
    with its history entry, and the same checks apply one item at a time (a move the workflow does not allow, or an
    item someone changed meanwhile, is refused for that item only and reported).

    Args:
        store: the tracking store.
        loaded: (item id, version the officer saw) of each selected item.
        user: the officer.
        status: the new status (None keeps each item's).
        owner: the new owner (None keeps each item's).
        reason: the reason code when moving to 已拒绝.

    Returns:
        The outcome per item.

    Raises:
        PermissionDeniedError: the user may only read (nothing is changed).
        DatabaseError: the database cannot be written.
    """
    outcome = BatchOutcome()
    for item_id, version in loaded:
        try:
            before = store.get(item_id)
            after = store.update(item_id, version, user=user, status=status, owner=owner, reason=reason)
        except PermissionDeniedError:
            raise
        except TrackingError as exc:
            outcome.failed.append((item_id, str(exc)))
            continue
        (outcome.changed if after.version != before.version else outcome.unchanged).append(after)
    return outcome
