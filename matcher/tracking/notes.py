"""Note threads of outreach items: every note kept with its author and time, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from matcher.ingest.clean import clean_text
from matcher.tracking.db import guarded
from matcher.tracking.models import ItemNote, OutreachItem
from matcher.tracking.service import Actor, NotFoundError, TrackingError, TrackingStore, utcnow, writer

MAX_NOTE_CHARS = 5000


@dataclass(frozen=True)
class Note:
    """One note of a thread (`created_at`: naive UTC)."""

    id: int
    item_id: int
    body: str
    author: str
    author_login: str
    created_at: datetime


def add_note(store: TrackingStore, item_id: int, body: str, *, user: Actor | str) -> Note:
    """Append a note to an item's thread (it does not change the item or its version, so it never conflicts).

    Args:
        store: the tracking store.
        item_id: the item.
        body: the note (cleaned of control characters and stripped; at most MAX_NOTE_CHARS characters).
        user: the officer (a viewer is refused), or a name for a trusted script.

    Returns:
        The stored note.

    Raises:
        TrackingError: the note is empty or too long.
        NotFoundError: no such item.
        PermissionDeniedError: the user may only read.
    """
    name, login = writer(user)
    body = clean_text(body or "", limit=10 * MAX_NOTE_CHARS)  # control characters (pasted from Word) removed
    if not body:
        raise TrackingError("备注内容为空，未保存")
    if len(body) > MAX_NOTE_CHARS:
        raise TrackingError(f"备注过长（{len(body)} 字），最多 {MAX_NOTE_CHARS} 字")
    with guarded(store.engine.url, f"add a note to item {item_id}"), store.Session.begin() as s:
        if s.get(OutreachItem, item_id) is None:
            raise NotFoundError(f"推送清单中没有记录 #{item_id}")
        row = ItemNote(item_id=item_id, body=body, author=name, author_login=login, created_at=utcnow())
        s.add(row)
        s.flush()
        return _note(row)


def notes(store: TrackingStore, item_id: int) -> list[Note]:
    """An item's thread, oldest first."""
    with guarded(store.engine.url, f"read the notes of item {item_id}"), store.Session() as s:
        rows = s.scalars(select(ItemNote).where(ItemNote.item_id == item_id).order_by(ItemNote.id))
        return [_note(r) for r in rows]


def _note(row: ItemNote) -> Note:
    return Note(row.id, row.item_id, row.body, row.author, row.author_login or "", row.created_at)
