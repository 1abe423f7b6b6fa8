"""Outreach tracking: the shortlist of patent <-> enterprise pairs, their status workflow and history.

Stored with SQLAlchemy (SQLite file by default, PostgreSQL when DATABASE_URL is set); the schema is
created and upgraded by Alembic (`upgrade_db`, run on start-up by TrackingStore). The history is append-only
(database triggers), writes check the writer's role, and database failures are one DatabaseError message.
"""

from matcher.tracking.constants import (
    CONTACTED,
    FUNNEL,
    LICENSED,
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
from matcher.tracking.models import Base, OutreachItem, ShortlistItem, StatusChange
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

__all__ = [
    "CONTACTED", "DEFAULT_SQLITE", "FUNNEL", "LICENSED", "NEGOTIATING", "PENDING", "PUSHED", "REASONS", "REJECTED",
    "REPLIED", "STATUSES", "SUCCESS", "TRANSFERRED", "TRANSITIONS", "Actor", "Base", "Change", "ConcurrentEditError",
    "DatabaseError", "DuplicatePairError", "Item", "NotFoundError", "OutreachItem", "PermissionDeniedError",
    "ShortlistItem", "StatusChange", "TrackingError", "TrackingStore", "TransitionError", "allowed_next",
    "database_url", "major_industry", "make_engine", "sqlite_file", "upgrade_db",
]
