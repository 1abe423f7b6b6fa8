"""Tracking tables: outreach_items (the shortlist) and status_changes (history).

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outreach_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patent_id", sa.String(128), nullable=False),
        sa.Column("enterprise_id", sa.String(128), nullable=False),
        sa.Column("patent_title", sa.String(500), nullable=False),
        sa.Column("enterprise_name", sa.String(500), nullable=False),
        sa.Column("industry", sa.String(200), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("next_action", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("patent_id", "enterprise_id", name="uq_outreach_pair"),
    )
    op.create_index("ix_outreach_items_patent_id", "outreach_items", ["patent_id"])
    op.create_index("ix_outreach_items_enterprise_id", "outreach_items", ["enterprise_id"])
    op.create_index("ix_outreach_items_status", "outreach_items", ["status"])
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("outreach_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_status_changes_item_id", "status_changes", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_status_changes_item_id", table_name="status_changes")
    op.drop_table("status_changes")
    op.drop_index("ix_outreach_items_status", table_name="outreach_items")
    op.drop_index("ix_outreach_items_enterprise_id", table_name="outreach_items")
    op.drop_index("ix_outreach_items_patent_id", table_name="outreach_items")
    op.drop_table("outreach_items")
