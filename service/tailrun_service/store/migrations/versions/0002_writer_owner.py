"""Writer ownership: each writer records the principal that first wrote it.

"admin" (the service token, or no token configured), "run:<run_id>" (a run-scoped token) or
"service" (the service's own in-process writers). A run-scoped caller may only use writers it
owns (see store/ingest.py). Writers from before this revision have no owner (NULL): the first
caller that uses one afterwards becomes its owner.

Revision ID: 0002_writer_owner
Revises: 0001
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_writer_owner"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a nullable column needs no table copy, on SQLite nor on PostgreSQL.
    op.add_column("writers", sa.Column("owner", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("writers") as batch:
        batch.drop_column("owner")
