"""Orchestrated runs: the controller state of sweeps and pipelines (one row per parent run).

Revision ID: 0004_orchestration
Revises: 0003_registries
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_orchestration"
down_revision = "0003_registries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestrations",
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("state_json", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("final", sa.String(32), nullable=False, server_default=sa.text("''")),
        sa.Column("created_time", sa.Float, nullable=False),
        sa.Column("updated_time", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("orchestrations")
