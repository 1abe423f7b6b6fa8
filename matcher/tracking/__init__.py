"""Outreach tracking: the shortlist of patent <-> enterprise pairs, their status workflow and history.

Stored with SQLAlchemy (SQLite file by default, PostgreSQL when DATABASE_URL is set); the schema is
created and upgraded by Alembic (`upgrade_db`, run on start-up by TrackingStore). The history is append-only
(database triggers; so are note threads and patent terms), writes check the writer's role, and database failures are one DatabaseError message.
"""

from matcher.tracking.bulk import BatchOutcome, update_many
from matcher.tracking.constants import (
    CLOSED,
    CONTACTED,
    FUNNEL,
    LICENCE_MODES,
    LICENSED,
    MATURITY_LEVELS,
    NEGOTIATING,
    PENDING,
    PUSHED,
    REASONS,
    REJECTED,
    REPLIED,
    STATUSES,
    SUCCESS,
    TRANSFERRED,
    TRANSITIONS,
    allowed_next,
)
from matcher.tracking.db import DEFAULT_SQLITE, DatabaseError, database_url, make_engine, sqlite_file, upgrade_db
from matcher.tracking.followup import BEIJING, beijing_today, due_items, overdue_count, week_end
from matcher.tracking.models import Base, ItemNote, OutreachItem, PatentTerms, ShortlistItem, StatusChange
from matcher.tracking.notes import MAX_NOTE_CHARS, Note, add_note, notes
from matcher.tracking.service import (
    Actor,
    Change,
    ConcurrentEditError,
    DuplicatePairError,
    Item,
    NotFoundError,
    PermissionDeniedError,
    TrackingError,
    TrackingStore,
    TransitionError,
    major_industry,
)
from matcher.tracking.terms import TERM_FIELDS, Terms, TermsConflictError, current_terms, set_terms, terms_history

__all__ = [
    "CONTACTED", "DEFAULT_SQLITE", "FUNNEL", "LICENSED", "NEGOTIATING", "PENDING", "PUSHED", "REASONS", "REJECTED",
    "REPLIED", "STATUSES", "SUCCESS", "TRANSFERRED", "TRANSITIONS", "Actor", "Base", "Change", "ConcurrentEditError",
    "DatabaseError", "DuplicatePairError", "Item", "NotFoundError", "OutreachItem", "PermissionDeniedError",
    "ShortlistItem", "StatusChange", "TrackingError", "TrackingStore", "TransitionError", "allowed_next",
    "database_url", "major_industry", "make_engine", "sqlite_file", "upgrade_db",
    # notes, terms, follow-ups, batch changes
    "BEIJING", "CLOSED", "MAX_NOTE_CHARS", "LICENCE_MODES", "MATURITY_LEVELS", "TERM_FIELDS", "BatchOutcome", "ItemNote", "Note",
    "PatentTerms", "Terms", "TermsConflictError", "add_note", "beijing_today", "current_terms", "due_items", "notes",
    "overdue_count", "set_terms", "terms_history", "update_many", "week_end",
]
