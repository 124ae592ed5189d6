"""The retraining policy of a model, declared in the workspace's ``shipyard.toml``::

    [retraining.fraud]
    spec = "spec.toml"                   # the training spec; its [data] is replaced by the fresh data
    alias = "production"                 # the champion the challenger must beat, and the alias it moves
    window = "90d"                       # the fresh data: its last 90 days
    data = { source = "log", labelled = true }
    #  or { source = "dataset", name = "transactions", time_column = "ts" }
    #  or { source = "sql", url = "postgresql://…", query = "select … where ts >= :start and ts < :end" }
    then = "rollout"                     # or "promote" (after the gate), or "register" (a person decides)
    rollout = { strategy = "canary", steps = [10, 50, 100], interval = "10m" }
    training = { on = "ray", address = "ray://head:10001" }   # default: on = "local", in the run's process

    [retraining.fraud.triggers]
    schedule = "0 3 * * *"               # cron, in UTC
    alerts = ["fraud-drift"]             # these alert rules firing start a run
    new_labels = 5000                    # this many labelled predictions since the last run start one

    [retraining.fraud.guards]
    min_rows = 1000                      # fewer fresh rows: the run stops before training
    cooldown = "6h"                      # no run starts sooner after the last one

Everything is checked when the policy is read, so a typo fails at once with the closest name, never at 3 am.
A policy says what may happen; the retraining service does it and records each run.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shipyard.config import CONFIG_FILE, Settings
from shipyard.durations import parse_duration
from shipyard.errors import InvalidInput, not_found
from shipyard.rollouts.plan import RolloutPlan

#: What follows a run whose challenger passed its gate.
Then = Literal["rollout", "promote", "register"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSource(_Strict):
    """The model's own prediction log joined with the labels that came back (``shipyard data from-log``)."""

    source: Literal["log"]
    labelled: bool = Field(True, description="only rows with a label (the training target)")


class DatasetSource(_Strict):
    """The newest version of a dataset in the catalog, cut to the window by ``time_column``."""

    source: Literal["dataset"]
    name: str = Field(min_length=1)
    time_column: str | None = Field(None, description="without it, the whole dataset is the fresh data")


class SqlSource(_Strict):
    """A query over PostgreSQL (``postgresql://…``) or DuckDB (``duckdb:///path.db``); ``:start`` and
    ``:end`` in it are bound to the window."""

    source: Literal["sql"]
    url: str = Field(min_length=1)
    query: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("postgresql", "duckdb://")):
            raise ValueError(f"{url!r} is neither postgresql://… nor duckdb:///path.db")
        return url


DataSource = Annotated[LogSource | DatasetSource | SqlSource, Field(discriminator="source")]


class Triggers(_Strict):
    """What starts a run besides ``shipyard retrain run``."""

    schedule: str | None = Field(None, description="a cron expression, in UTC")
    alerts: tuple[str, ...] = Field((), description="alert rules whose firing starts a run")
    new_labels: int | None = Field(None, ge=1, description="labelled predictions since the last run")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        if schedule is not None and not croniter.is_valid(schedule):
            raise ValueError(f"{schedule!r} is not a cron expression such as '0 3 * * *'")
        return schedule


class Guards(_Strict):
    """What must hold before a run trains anything."""

    min_rows: int = Field(100, ge=1, description="fresh rows the run needs, after the contract's check")
    cooldown: timedelta = Field(timedelta(hours=1), description="the least time between two runs")

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value, what="cooldown") if isinstance(value, str) else value


class TrainingPlace(_Strict):
    """Where the challenger is fitted: in the run's own process, or as a task of a Ray cluster."""

    on: Literal["local", "ray"] = "local"
    address: str = Field(
        "", description="the Ray cluster (ray://head:10001); empty: the ray_address setting, else a local Ray"
    )

    @model_validator(mode="after")
    def _address_needs_ray(self) -> TrainingPlace:
        if self.address and self.on != "ray":
            raise ValueError(f'a Ray address is given but on = "{self.on}"; set on = "ray"')
        return self


class RetrainPolicy(_Strict):
    """One model's retraining: what to train, on which data, when, under which guards, and what follows."""

    model: str = Field(min_length=1)
    spec: str = Field(min_length=1, description="the training spec, relative to the workspace")
    alias: str = "production"
    data: DataSource
    window: timedelta | None = Field(None, description="how far back the fresh data reaches")
    triggers: Triggers = Triggers()
    guards: Guards = Guards()
    then: Then = "rollout"
    rollout: dict[str, Any] = Field(default_factory=dict, description="a rollout plan's keys")
    training: TrainingPlace = TrainingPlace()

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value, what="window", minimum=timedelta(seconds=1))
        return value

    @model_validator(mode="after")
    def _rollout_plan(self) -> RetrainPolicy:
        if self.rollout and self.then != "rollout":
            raise ValueError(f'a rollout plan is given but then = "{self.then}" never starts a rollout')
        self.rollout_plan(candidate=1)  # refuses a plan with a bad key now, not after a night's training
        return self

    def rollout_plan(self, candidate: int) -> RolloutPlan:
        """The plan that rolls ``candidate`` out to ``alias``."""
        return RolloutPlan.from_dict(
            {"alias": self.alias, **self.rollout, "to": candidate},
            model=self.model,
            where=f"[retraining.{self.model}] rollout",
        )

    def spec_path(self, home: Path) -> Path:
        path = Path(self.spec)
        return path if path.is_absolute() else home / path


def policy_from_dict(model: str, section: Mapping[str, Any], *, where: str = "") -> RetrainPolicy:
    """A policy from its TOML table (or a dict from Python); InvalidInput naming every problem."""
    where = where or f"[retraining.{model}]"
    try:
        return RetrainPolicy.model_validate({**section, "model": model})
    except ValidationError as exc:
        raise InvalidInput(f"invalid retraining policy {where}: {_problems(exc)}") from None


def load_policy(settings: Settings, model: str) -> RetrainPolicy:
    """``[retraining.<model>]`` from the workspace's shipyard.toml; NotFound (with the closest model that
    has one) when it declares none."""
    sections = _sections(settings)
    if model not in sections:
        within = f"{CONFIG_FILE} ([retraining.<model>])"
        raise not_found("retraining policy for model", model, within=within, candidates=sections)
    return policy_from_dict(model, sections[model], where=f"[retraining.{model}] in {CONFIG_FILE}")


def load_policies(settings: Settings) -> list[RetrainPolicy]:
    """Every model's policy declared in the workspace's shipyard.toml, in the order declared."""
    return [
        policy_from_dict(model, section, where=f"[retraining.{model}] in {CONFIG_FILE}")
        for model, section in _sections(settings).items()
    ]


def _sections(settings: Settings) -> dict[str, Any]:
    path = settings.home / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path.name} is not valid TOML: {exc}") from None
    return dict(document.get("retraining") or {})


def _problems(error: ValidationError) -> str:
    """Each pydantic error as ``key.path: message``; an unknown key names the closest known one."""
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key" + _closest(item["loc"])
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{location or 'policy'}: {message}")
    return "; ".join(problems)


def _closest(location: tuple[int | str, ...]) -> str:
    """'; did you mean X?' for an unknown key, from the keys the model at its place knows."""
    known: dict[str, type[BaseModel]] = {
        "": RetrainPolicy,
        "triggers": Triggers,
        "guards": Guards,
        "training": TrainingPlace,
        "log": LogSource,
        "dataset": DatasetSource,
        "sql": SqlSource,
    }
    parent = str(location[-2]) if len(location) > 1 else ""
    fields = known.get(parent, RetrainPolicy).model_fields
    close = difflib.get_close_matches(str(location[-1]), list(fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(fields)})"
