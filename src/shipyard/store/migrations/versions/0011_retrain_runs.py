"""Retraining runs: each run of a model's retraining policy, its trigger, the step it reached and its end.

Revision ID: 0011_retrain_runs
Revises: 0010_rollouts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0011_retrain_runs"
down_revision = "0010_rollouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("trigger_detail", JSONDocument, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", JSONDocument, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("started_by", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_retrain_runs_model_state", "retrain_runs", ["model", "state"])


def downgrade() -> None:
    op.drop_index("ix_retrain_runs_model_state", table_name="retrain_runs")
    op.drop_table("retrain_runs")
