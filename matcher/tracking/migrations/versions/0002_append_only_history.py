"""Append-only history: status_changes gets the login name, loses the delete cascade, and triggers refuse changes.

Revision ID: 0002_append_only_history
Revises: 0001_initial
Create Date: 2026-12-03

- `changed_by_login`: the officer's login name next to the display name in `changed_by` (empty for older rows).
- The foreign key to outreach_items no longer cascades deletes (an item with history cannot be deleted).
- Triggers refuse UPDATE and DELETE of history rows (and TRUNCATE on PostgreSQL), so the history stays complete
  even for someone writing SQL by hand. The downgrade removes all three changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_append_only_history"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

FK = "fk_status_changes_item_id"
# SQLite names the unnamed foreign key of 0001 by this convention when it rebuilds the table
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
MESSAGE = "status_changes is append-only: history entries cannot be changed or deleted"

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER status_changes_no_update BEFORE UPDATE ON status_changes "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER status_changes_no_delete BEFORE DELETE ON status_changes "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
_PG_TRIGGERS = [
    "CREATE FUNCTION status_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE} (' || TG_OP || ')', ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER status_changes_no_update_delete BEFORE UPDATE OR DELETE ON status_changes "
    "FOR EACH ROW EXECUTE FUNCTION status_changes_append_only()",
    "CREATE TRIGGER status_changes_no_truncate BEFORE TRUNCATE ON status_changes "
    "FOR EACH STATEMENT EXECUTE FUNCTION status_changes_append_only()",
]


def _fk_name() -> str | None:
    """The current name of status_changes' foreign key to outreach_items (None when unnamed)."""
    for fk in sa.inspect(op.get_bind()).get_foreign_keys("status_changes"):
        if fk["referred_table"] == "outreach_items":
            return fk["name"]
    return None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    old = _fk_name() or "fk_status_changes_item_id"
    with op.batch_alter_table("status_changes", naming_convention=_SQLITE_NAMES if sqlite else None) as batch:
        batch.add_column(sa.Column("changed_by_login", sa.String(100), nullable=False, server_default=""))
        batch.drop_constraint(old, type_="foreignkey")
        batch.create_foreign_key(FK, "outreach_items", ["item_id"], ["id"])
    for statement in _SQLITE_TRIGGERS if sqlite else _PG_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS status_changes_no_update")
        op.execute("DROP TRIGGER IF EXISTS status_changes_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS status_changes_no_truncate ON status_changes")
        op.execute("DROP TRIGGER IF EXISTS status_changes_no_update_delete ON status_changes")
        op.execute("DROP FUNCTION IF EXISTS status_changes_append_only()")
    with op.batch_alter_table("status_changes") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.create_foreign_key(FK if sqlite else "status_changes_item_id_fkey", "outreach_items", ["item_id"], ["id"],
                                 ondelete="CASCADE")
        batch.drop_column("changed_by_login")
