"""SQLAlchemy 2.0 models: the shortlist of pairs being pushed (OutreachItem) and its change history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the tracking tables."""


class OutreachItem(Base):
    """One patent <-> enterprise pair on the shortlist and where its outreach stands.

    `version` grows by one on every change; an update names the version it was based on and fails
    with ConcurrentEditError when someone else changed the item in between (optimistic locking).
    """

    __tablename__ = "outreach_items"
    __table_args__ = (UniqueConstraint("patent_id", "enterprise_id", name="uq_outreach_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patent_id: Mapped[str] = mapped_column(String(128), index=True)
    enterprise_id: Mapped[str] = mapped_column(String(128), index=True)
    patent_title: Mapped[str] = mapped_column(String(500), default="")
    enterprise_name: Mapped[str] = mapped_column(String(500), default="")
    industry: Mapped[str] = mapped_column(String(200), default="")
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    owner: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    next_action: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # read-only view of the history: the history is append-only (database triggers refuse UPDATE and DELETE on it),
    # so deleting an item never cascades to its history; an item with history cannot be deleted
    history: Mapped[list[StatusChange]] = relationship(back_populates="item", order_by="StatusChange.id", viewonly=True)


# The shortlist is the set of outreach items; both names are used in the issue.
ShortlistItem = OutreachItem


class StatusChange(Base):
    """One change of an outreach item: status move and/or edits of owner, note, next-action date.

    Append-only: migration 0002 adds triggers (SQLite and PostgreSQL) that refuse UPDATE and DELETE of its rows.
    `changed_by` is the display name, `changed_by_login` the login name of the officer (empty before 0002).
    """

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("outreach_items.id", name="fk_status_changes_item_id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    changes: Mapped[str] = mapped_column(Text, default="{}")  # JSON: field -> [old, new]
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    changed_by_login: Mapped[str] = mapped_column(String(100), default="", server_default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime)

    item: Mapped[OutreachItem] = relationship(back_populates="history", viewonly=True)


class ItemNote(Base):
    """One note in an outreach item's thread: its text, author and time (UTC), never edited.

    Append-only (migration 0003 adds the same triggers as for status_changes); the item's old single `note` field was
    carried into the thread by that migration.
    """

    __tablename__ = "item_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("outreach_items.id", name="fk_item_notes_item_id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100), default="")
    author_login: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PatentTerms(Base):
    """One version of a patent's licence terms set in the workbench (licence mode, price, maturity).

    Append-only: every change is a new row with the next `version` of the patent (unique per patent, so two editors
    saving on the same version cannot both win); the current terms are the row with the highest version.
    """

    __tablename__ = "patent_terms"
    __table_args__ = (UniqueConstraint("patent_id", "version", name="uq_patent_terms_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patent_id: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    license_mode: Mapped[str] = mapped_column(String(32), default="")
    price: Mapped[str] = mapped_column(String(100), default="")
    maturity: Mapped[str] = mapped_column(String(32), default="")
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    changed_by_login: Mapped[str] = mapped_column(String(100), default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime)
