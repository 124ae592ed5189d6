"""Rollouts: a rollout per model alias with its plan and state, the steps it entered and its analyses.

Revision ID: 0010_rollouts
Revises: 0009_drift_figures
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0010_rollouts"
down_revision = "0009_drift_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("alias", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("stable", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("candidate_share", sa.Float(), nullable=False),
        sa.Column("plan", JSONDocument, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("started_by", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_rollouts_model_alias_state", "rollouts", ["model", "alias", "state"])
    op.create_table(
        "rollout_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rollout_id", sa.Integer(), sa.ForeignKey("rollouts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("candidate_share", sa.Float(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(NAME_LENGTH), nullable=False),
    )
    op.create_index("ix_rollout_steps_rollout_id", "rollout_steps", ["rollout_id"])
    op.create_table(
        "rollout_analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rollout_id", sa.Integer(), sa.ForeignKey("rollouts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("analysis", JSONDocument, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rollout_analyses_rollout_id", "rollout_analyses", ["rollout_id"])


def downgrade() -> None:
    op.drop_table("rollout_analyses")
    op.drop_table("rollout_steps")
    op.drop_index("ix_rollouts_model_alias_state", table_name="rollouts")
    op.drop_table("rollouts")
