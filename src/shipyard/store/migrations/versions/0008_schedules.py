"""Schedules: shipyard commands on cron schedules, and every occurrence's outcome.

Revision ID: 0008_schedules
Revises: 0007_batch_runs
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.schema import NAME_LENGTH, JSONDocument, UTCDateTime

revision = "0008_schedules"
down_revision = "0007_batch_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
        sa.Column("cron", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("command", JSONDocument, nullable=False),
        sa.Column("missed", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("handled_until", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("schedule", sa.String(NAME_LENGTH), nullable=False, index=True),
        sa.Column("scheduled_for", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("batch_run", sa.String(64), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("rejected", sa.BigInteger(), nullable=True),
        sa.Column("host", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.UniqueConstraint("schedule", "scheduled_for", name="uq_schedule_runs_occurrence"),
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
