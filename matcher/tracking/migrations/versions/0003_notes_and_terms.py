"""Note threads and patent terms: item_notes and patent_terms, both append-only; old notes carried into the thread.

Revision ID: 0003_notes_and_terms
Revises: 0002_append_only_history
Create Date: 2026-12-03

- `item_notes`: one row per note of an outreach item (text, author, login, time). Every non-empty `note` of an item
  becomes the first note of its thread, by the item's last editor at its last change time.
- `patent_terms`: one row per version of a patent's licence mode, price and maturity (unique patent + version).
- Triggers (SQLite and PostgreSQL) refuse UPDATE and DELETE of both tables' rows (and TRUNCATE on PostgreSQL), like
  0002 does for status_changes. The downgrade drops both tables (the old `note` column was never removed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_notes_and_terms"
down_revision = "0002_append_only_history"
branch_labels = None
depends_on = None

TABLES = ("item_notes", "patent_terms")
MESSAGE = "{table} is append-only: its rows cannot be changed or deleted"


def _sqlite_triggers(table: str) -> list[str]:
    message = MESSAGE.format(table=table)
    return [f"CREATE TRIGGER {table}_no_{op_} BEFORE {op_.upper()} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for op_ in ("update", "delete")]


def _pg_triggers(table: str) -> list[str]:
    message = MESSAGE.format(table=table)
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{message} (' || TG_OP || ')', ERRCODE = 'insufficient_privilege'; END $$",
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "item_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("outreach_items.id", name="fk_item_notes_item_id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_login", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_item_notes_item_id", "item_notes", ["item_id"])
    op.create_table(
        "patent_terms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patent_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("license_mode", sa.String(32), nullable=False),
        sa.Column("price", sa.String(100), nullable=False),
        sa.Column("maturity", sa.String(32), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_by_login", sa.String(100), nullable=False, server_default=""),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("patent_id", "version", name="uq_patent_terms_version"),
    )
    op.create_index("ix_patent_terms_patent_id", "patent_terms", ["patent_id"])
    op.execute("INSERT INTO item_notes (item_id, body, author, author_login, created_at) "
               "SELECT id, note, updated_by, '', updated_at FROM outreach_items WHERE note IS NOT NULL AND note <> '' "
               "ORDER BY id")
    for table in TABLES:
        for statement in _sqlite_triggers(table) if sqlite else _pg_triggers(table):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_index("ix_patent_terms_patent_id", table_name="patent_terms")
    op.drop_table("patent_terms")
    op.drop_index("ix_item_notes_item_id", table_name="item_notes")
    op.drop_table("item_notes")
