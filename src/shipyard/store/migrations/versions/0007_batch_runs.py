"""Batch runs: every batch scoring job, its version, inputs, counts and outcome.

Revision ID: 0007_batch_runs
Revises: 0006_alerts
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0007_batch_runs"
down_revision = "0006_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("inputs", JSONDocument, nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("scored", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )
    op.create_index("ix_batch_runs_model_started", "batch_runs", ["model", "started_at"])


def downgrade() -> None:
    op.drop_table("batch_runs")
