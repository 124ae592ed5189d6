"""The metadata database schema (SQLAlchemy 2 declarative tables).

Alembic migrations under ``store/migrations`` create and evolve exactly these tables; a test compares the
two so they cannot drift apart. Versions are immutable rows; aliases are the only mutable pointers, and
every change to either leaves an ``audit_events`` row written in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAME_LENGTH = 255
#: A request id (32 characters), a dash and a row number.
PREDICTION_ID_LENGTH = 64


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _JSONDocument(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL. The PostgreSQL dialect is imported only when the database is one:
    it brings all its drivers (about 40 ms of every command and server process on SQLite)."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name != "postgresql":
            return super().load_dialect_impl(dialect)
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB(none_as_null=True))


JSONDocument = _JSONDocument()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONDocument}


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Counter handed out under the row's write lock, so concurrent registrations never share a number.
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    updated_at: Mapped[datetime]


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(32))
    flavor_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact_sha256: Mapped[str] = mapped_column(String(64), index=True)
    artifact_size: Mapped[int] = mapped_column(BigInteger)
    model_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    profile: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    training: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class DatasetRow(Base):
    """A named dataset; its versions are immutable snapshots stored once under their content hash."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
        UniqueConstraint("dataset_id", "sha256", name="uq_dataset_versions_dataset_sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[int] = mapped_column(Integer)
    contract: Mapped[dict[str, Any]] = mapped_column()
    profile: Mapped[dict[str, Any]] = mapped_column()
    source: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class GateRunRow(Base):
    """One run of a promotion gate for a version and a target alias, with its full report."""

    __tablename__ = "gate_runs"
    __table_args__ = (Index("ix_gate_runs_model_version", "model_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    alias: Mapped[str] = mapped_column(String(NAME_LENGTH))
    champion: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passed: Mapped[bool] = mapped_column()
    promoted: Mapped[bool] = mapped_column(default=False)
    forced: Mapped[bool] = mapped_column(default=False)
    report: Mapped[dict[str, Any]] = mapped_column()
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))


class AliasRow(Base):
    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("model_id", "name", name="uq_aliases_model_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class AliasHistoryRow(Base):
    """One move of one alias; ``version`` is NULL when the alias was deleted."""

    __tablename__ = "alias_history"
    __table_args__ = (Index("ix_alias_history_model_alias", "model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    previous_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True, index=True)
    target: Mapped[str] = mapped_column(String(2 * NAME_LENGTH + 2))
    before: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class FeedbackRow(Base):
    """A true label attached to one logged prediction, whenever it arrived."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_model_version_time", "model_id", "version", "predicted_at"),)

    prediction_id: Mapped[str] = mapped_column(String(PREDICTION_ID_LENGTH), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    predicted_at: Mapped[datetime]
    label: Mapped[str] = mapped_column(Text)  # the label as JSON: a number, text or boolean
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(NAME_LENGTH))


class MonitorWindowRow(Base):
    """One monitored window of one version: the whole report, as JSON."""

    __tablename__ = "monitor_windows"
    __table_args__ = (
        UniqueConstraint(
            "model_id", "version", "window_seconds", "window_start", name="uq_monitor_windows_window"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    window_seconds: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    report: Mapped[dict[str, Any]] = mapped_column()
    computed_at: Mapped[datetime]


class MonitorPointRow(Base):
    """One figure of one window (a drift score, a missing rate, a metric, a latency): the time series."""

    __tablename__ = "monitor_points"
    __table_args__ = (
        Index("ix_monitor_points_series", "model_id", "metric", "window_seconds", "window_start"),
        Index("ix_monitor_points_window", "window_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("monitor_windows.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    window_seconds: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    metric: Mapped[str] = mapped_column(String(NAME_LENGTH))
    column: Mapped[str] = mapped_column(String(NAME_LENGTH))  # "" for a figure of the whole window
    value: Mapped[float | None] = mapped_column(Float, nullable=True)


class AlertRuleRow(Base):
    """A rule added through the CLI or the Python API (rules can also be declared in TOML)."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column()  # the rule as it would be written in TOML
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime]


class AlertStateRow(Base):
    """The current state of one alert: a rule applied to one model version (and column)."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    model: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    version: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(NAME_LENGTH))
    state: Mapped[str] = mapped_column(String(16))  # inactive, pending, firing, resolved
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    since: Mapped[datetime]  # when the current state began
    fired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    evaluated_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column()  # labels, condition, window start, baseline


class AlertEventRow(Base):
    """A transition of an alert (pending, firing, resolved, inactive) or a repeated notification."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_rule_time", "rule", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(String(NAME_LENGTH))
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    silenced_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column()


class AlertDeliveryRow(Base):
    """One notification sent (or not) through one channel."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=True, index=True
    )  # None for a test notification
    channel: Mapped[str] = mapped_column(String(NAME_LENGTH))
    delivered: Mapped[bool]
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]


class AlertActionRow(Base):
    """An action an alert triggered (a rollback, a retraining job), done, skipped or failed, and why."""

    __tablename__ = "alert_actions"
    __table_args__ = (Index("ix_alert_actions_cooldown", "rule", "model", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(NAME_LENGTH))
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # done, skipped, failed
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class AlertSilenceRow(Base):
    """Notifications (and actions) of matching alerts are held back until ``ends_at``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[dict[str, Any]] = mapped_column()  # rule, model, version, column, severity, labels
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str] = mapped_column(Text, default="")


class BatchRunRow(Base):
    """One batch scoring run: the version, the inputs and their hashes, what happened, how long it took."""

    __tablename__ = "batch_runs"
    __table_args__ = (Index("ix_batch_runs_model_started", "model", "started_at"),)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed, interrupted
    output: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column()  # {"files": [{path, format, size, sha256}, …]}
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    scored: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    error: Mapped[str] = mapped_column(Text, default="")


class ScheduleRow(Base):
    """A shipyard command run on a cron schedule (``shipyard schedule add``)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    cron: Mapped[str] = mapped_column(String(NAME_LENGTH))
    timezone: Mapped[str] = mapped_column(String(64))
    command: Mapped[dict[str, Any]] = mapped_column()  # {"args": ["score", "fraud@production", …]}
    missed: Mapped[str] = mapped_column(String(16))  # run_once, skip, run_all
    enabled: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime]
    #: The newest scheduled time already handled (run, skipped or missed): the next is computed from it.
    handled_until: Mapped[datetime]


class ScheduleRunRow(Base):
    """One occurrence of a schedule: claimed once (unique per schedule and time), then its outcome."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule", "scheduled_for", name="uq_schedule_runs_occurrence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    scheduled_for: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed, missed, interrupted
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    batch_run: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rejected: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    host: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_path: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class RolloutRow(Base):
    """A rollout moving ``model@alias`` from ``stable`` to ``candidate``: its plan, state and current step.

    At most one rollout per model and alias is active (running or paused); ``create`` checks that under the
    model's write lock, so two concurrent starts cannot both succeed.
    """

    __tablename__ = "rollouts"
    __table_args__ = (Index("ix_rollouts_model_alias_state", "model", "alias", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    alias: Mapped[str] = mapped_column(String(NAME_LENGTH))
    strategy: Mapped[str] = mapped_column(String(16))
    stable: Mapped[int] = mapped_column(Integer)
    candidate: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # running, paused, promoted, aborted, failed, stopped
    step_index: Mapped[int] = mapped_column(Integer)
    candidate_share: Mapped[float] = mapped_column(Float)
    plan: Mapped[dict[str, Any]] = mapped_column()  # RolloutPlan.to_dict()
    reason: Mapped[str] = mapped_column(Text, default="")  # why it is in its state
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RetrainRunRow(Base):
    """One retraining run of a model: what triggered it, the step it reached, and how it ended.

    At most one run per model is running; ``begin`` checks that (and the cooldown) under the model's write
    lock, and records a trigger that arrives meanwhile as ``coalesced`` into the running one.
    """

    __tablename__ = "retrain_runs"
    __table_args__ = (Index("ix_retrain_runs_model_state", "model", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    trigger: Mapped[str] = mapped_column(String(16))  # manual, schedule, alert, labels
    trigger_detail: Mapped[dict[str, Any]] = mapped_column()  # the alert event, the label count, …
    state: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed, skipped, coalesced
    step: Mapped[str] = mapped_column(String(16))  # the step reached (or that failed): data, train, gate, …
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column()  # data versions, rows, candidate, gate, rollout
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RolloutStepRow(Base):
    """One step a rollout entered: the candidate's share of live traffic from ``at`` on."""

    __tablename__ = "rollout_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    candidate_share: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))


class RolloutAnalysisRow(Base):
    """One analysis run during a step: its verdict and every check's figures (``Analysis.to_dict()``)."""

    __tablename__ = "rollout_analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(32))
    analysis: Mapped[dict[str, Any]] = mapped_column()
    at: Mapped[datetime]


class UserRow(Base):
    """A person or a robot (CI) who may use the management API and the dashboard, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer, operator, admin
    # "scrypt$n$r$p$salt$hash"; NULL for a user who signs in with API tokens only.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class ApiTokenRow(Base):
    """An API token: its public id and the SHA-256 of its secret, never the secret itself."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SessionRow(Base):
    """A dashboard session, keyed by the SHA-256 of its cookie's secret."""

    __tablename__ = "sessions"

    secret_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
