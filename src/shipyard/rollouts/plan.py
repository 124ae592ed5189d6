"""A rollout plan: how an alias moves from the version it holds (stable) to a candidate, declared up front.

The same plan comes from the command line, from ``[rollouts.<model>]`` in ``shipyard.toml``, from a TOML
file given with ``--plan`` and from Python; all of them end in ``RolloutPlan.from_dict``, so each spelling
is validated by the same rules and refused with the same messages. A plan is pure data: it is stored with
the rollout (``to_dict``) and read back by whoever advances it.

Strategies and their steps (the share of live traffic, in percent, the candidate answers at each step):

- ``canary``: growing steps, e.g. ``5,25,50,100``; an analysis between steps; the last step (100) moves
  the alias.
- ``shadow``: ``0``: stable answers everything; every request is mirrored to the candidate, whose answers
  are logged and compared, never returned.
- ``ab``: one fixed split in 1..99 held for ``interval`` (or until ``sample_size`` requests per arm), then a
  verdict: each metric's difference with a ``confidence`` interval (0.95 by default; ``rollouts.verdict``).
- ``blue_green``: ``100``: the candidate is loaded and warmed beside stable, then takes all traffic at
  once; stable stays warm for ``hold`` seconds so switching back is instant.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

from shipyard.durations import parse_duration
from shipyard.errors import InvalidInput, closest_hint, refuse_unknown_keys
from shipyard.numerals import whole_number
from shipyard.refs import validate_alias, validate_name
from shipyard.rollouts.verdict import DEFAULT_CONFIDENCE, check_confidence

Strategy = Literal["canary", "shadow", "ab", "blue_green"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

#: Every check an analysis knows, and the strategies it makes sense in. ``agreement`` and
#: ``score_difference`` compare the two answers to the same request, which only shadow has.
CHECK_STRATEGIES: dict[str, tuple[str, ...]] = {
    "error_rate": STRATEGIES,
    "latency_p99": STRATEGIES,
    "rejections": STRATEGIES,
    "prediction_drift": ("canary", "ab", "blue_green", "shadow"),
    "agreement": ("shadow",),
    "score_difference": ("shadow",),
    "accuracy": STRATEGIES,
}
CHECKS: tuple[str, ...] = tuple(CHECK_STRATEGIES)

DEFAULT_STEPS: dict[str, tuple[int, ...]] = {
    "canary": (5, 25, 50, 100),
    "shadow": (0,),
    "ab": (50,),
    "blue_green": (100,),
}

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$")  # an HTTP field name (RFC 9110 token)
_KEYS = (
    "model",
    "to",
    "candidate",
    "alias",
    "strategy",
    "steps",
    "interval",
    "min_requests",
    "max_wait",
    "hold",
    "routing_key",
    "checks",
    "wait_for_labels",
    "sample_size",
    "confidence",
)
_CHECK_KEYS = ("threshold", "failure_limit", "enabled")


@dataclass(frozen=True)
class RoutingKey:
    """What makes routing sticky: a request header's value or an input column's value. The same value goes
    to the same arm for the whole rollout."""

    source: Literal["header", "column"]
    name: str

    def __post_init__(self) -> None:
        if self.source not in ("header", "column"):
            raise InvalidInput(
                f"a routing key reads a 'header' or a 'column', got {str(self.source)[:40]!r}; "
                "write header:X-Customer-Id or column:customer_id"
            )
        if self.source == "header" and not _HEADER_NAME.match(self.name):
            raise InvalidInput(
                f"routing key header {self.name[:60]!r} is not a header name (letters, digits and - only, "
                "like X-Customer-Id)"
            )
        if self.source == "column" and (not self.name or self.name != self.name.strip()):
            raise InvalidInput("routing key column must be a column name, like column:customer_id")

    @classmethod
    def parse(cls, text: object) -> RoutingKey:
        """``"header:X-Customer-Id"`` or ``"column:customer_id"``."""
        if not isinstance(text, str) or ":" not in text:
            raise InvalidInput(
                f"routing key is header:<name> or column:<name>, like header:X-Customer-Id; "
                f"got {str(text)[:60]!r}"
            )
        source, _, name = text.partition(":")
        source = source.strip().lower()
        if source not in ("header", "column"):
            close = difflib.get_close_matches(source, ("header", "column"), n=1)
            hint = f"; did you mean {close[0]}:{name}?" if close else ""
            raise InvalidInput(
                f"routing key reads a header or a column, got {source[:40]!r}{hint} "
                "(write header:X-Customer-Id or column:customer_id)"
            )
        return cls(source="header" if source == "header" else "column", name=name.strip())

    def __str__(self) -> str:
        return f"{self.source}:{self.name}"


@dataclass(frozen=True)
class Check:
    """One test an analysis runs between steps: fail when the figure crosses ``threshold``; the rollout
    aborts when the check fails ``failure_limit`` analyses in a row. What the threshold measures depends on
    the check (see ``rollouts.analysis``): a difference of shares for error_rate, rejections and accuracy,
    a ratio for latency_p99, a p-value for prediction_drift (two-sample tests, Bonferroni-corrected), a
    share of identical labels for agreement and a mean absolute difference of scores for
    score_difference."""

    name: str
    threshold: float
    failure_limit: int = 1

    def __post_init__(self) -> None:
        if self.name not in CHECK_STRATEGIES:
            raise InvalidInput(f"unknown check {self.name[:60]!r}{closest_hint(self.name, CHECKS)}")
        threshold = self.threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
        ):
            raise InvalidInput(f"check {self.name!r}: threshold must be a number, got {_shown(threshold)}")
        if threshold < 0:
            raise InvalidInput(f"check {self.name!r}: threshold must be 0 or more, got {threshold}")
        object.__setattr__(self, "threshold", float(threshold))
        limit = self.failure_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(
                f"check {self.name!r}: failure_limit is how many analyses in a row may fail before the "
                f"rollout aborts, a whole number of at least 1; got {_shown(limit)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "failure_limit": self.failure_limit}


_ERRORS = Check("error_rate", 0.01)
_LATENCY = Check("latency_p99", 1.5)
_REJECTIONS = Check("rejections", 0.01)
#: prediction_drift: a p-value of 0.01 for the analysis as a whole (Bonferroni over its tests), and a drift
#: seen twice in a row, on fresh traffic, before it aborts: identical arms abort a four-step canary about
#: 4 × 0.01² = 0.04% of the time, where 0.05 and one failure aborted one in three (see rollouts.analysis).
_DRIFT = Check("prediction_drift", 0.01, failure_limit=2)
#: The checks a plan runs when it names none, per strategy.
DEFAULT_CHECKS: dict[str, tuple[Check, ...]] = {
    "canary": (_ERRORS, _LATENCY, _REJECTIONS, _DRIFT),
    "shadow": (_ERRORS, _LATENCY, _REJECTIONS, Check("agreement", 0.95), Check("score_difference", 0.05)),
    "ab": (_ERRORS, _LATENCY, _REJECTIONS, _DRIFT, Check("accuracy", 0.02)),
    "blue_green": (_ERRORS, _LATENCY, _REJECTIONS),
}


@dataclass(frozen=True)
class RolloutPlan:
    """A validated rollout plan. Durations are seconds; ``max_wait`` (how long a step may wait for
    ``min_requests`` before its analysis says "not enough data") defaults to three intervals; ``steps`` and
    ``checks`` default per strategy (``DEFAULT_STEPS``, ``DEFAULT_CHECKS``)."""

    model: str
    candidate: int
    alias: str = "production"
    strategy: Strategy = "canary"
    steps: tuple[int, ...] = ()
    interval: float = 600.0
    min_requests: int = 100
    max_wait: float | None = None
    hold: float = 600.0
    routing_key: RoutingKey | None = None
    checks: tuple[Check, ...] = ()
    wait_for_labels: bool = False
    sample_size: int | None = None
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        validate_name(self.model)
        validate_alias(self.alias)
        if self.strategy not in STRATEGIES:
            raise InvalidInput(
                f"unknown strategy {str(self.strategy)[:40]!r}{closest_hint(str(self.strategy), STRATEGIES)}"
            )
        _require_whole(self.candidate, "candidate version", minimum=1)
        steps = tuple(self.steps) if self.steps else DEFAULT_STEPS[self.strategy]
        object.__setattr__(self, "steps", steps)
        _check_steps(self.strategy, steps)
        _require_seconds(self.interval, "interval", minimum=1.0)
        _require_whole(self.min_requests, "min_requests", minimum=1)
        if self.max_wait is None:
            object.__setattr__(self, "max_wait", 3 * float(self.interval))
        _require_seconds(self.max_wait, "max_wait", minimum=float(self.interval))
        _require_seconds(self.hold, "hold", minimum=0.0)
        object.__setattr__(self, "interval", float(self.interval))
        object.__setattr__(self, "max_wait", float(self.max_wait))  # type: ignore[arg-type]
        object.__setattr__(self, "hold", float(self.hold))
        if self.routing_key is not None and not isinstance(self.routing_key, RoutingKey):
            object.__setattr__(self, "routing_key", RoutingKey.parse(self.routing_key))
        if not isinstance(self.wait_for_labels, bool):
            raise InvalidInput(f"wait_for_labels is true or false, got {_shown(self.wait_for_labels)}")
        if self.sample_size is not None:
            _require_whole(self.sample_size, "sample_size", minimum=1)
            if self.strategy != "ab":
                raise InvalidInput(
                    f"sample_size ends an A/B test; a {self.strategy} rollout moves on after each interval"
                )
        object.__setattr__(self, "confidence", check_confidence(self.confidence))
        if self.strategy != "ab" and self.confidence != DEFAULT_CONFIDENCE:
            raise InvalidInput(
                f"confidence is the level of an A/B test's verdict; a {self.strategy} rollout has no verdict"
            )
        checks = tuple(self.checks) if self.checks else DEFAULT_CHECKS[self.strategy]
        object.__setattr__(self, "checks", checks)
        _check_checks(self.strategy, checks)

    @property
    def shares(self) -> tuple[float, ...]:
        """The candidate's share of live traffic at each step, from 0.0 to 1.0."""
        return tuple(step / 100 for step in self.steps)

    def check(self, name: str) -> Check | None:
        """The check called ``name`` in this plan, None when the plan does not run it."""
        return next((check for check in self.checks if check.name == name), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, model: str | None = None, where: str = "") -> RolloutPlan:
        """A plan from the keys of a TOML table (``[rollouts.<model>]``, a ``--plan`` file) or of a dict.

        ``model`` names the model when ``data`` does not (the ``<model>`` of ``[rollouts.<model>]``);
        ``where`` prefixes messages (a file name). ``to`` and ``candidate`` are the same key; durations are
        seconds or text like ``10m``; ``steps`` a list or ``"5,25,50,100"``; checks a table per name with
        ``threshold``, ``failure_limit`` and ``enabled = false`` to drop a default check.
        """
        prefix = f"{where}: " if where else ""
        try:
            return cls._from_dict(data, model=model)
        except InvalidInput as exc:
            raise InvalidInput(f"{prefix}{exc}") from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any], *, model: str | None) -> RolloutPlan:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"a rollout plan is a table of settings, got {type(data).__name__}")
        refuse_unknown_keys(data, _KEYS, "rollout plan")
        if "to" in data and "candidate" in data and data["to"] != data["candidate"]:
            raise InvalidInput(
                "rollout plan gives both 'to' and 'candidate'; they are the same key, give one"
            )
        name = data.get("model", model)
        if model is not None and name != model:
            raise InvalidInput(f"rollout plan is for model {name!r}, not {model!r}")
        if name is None:
            raise InvalidInput("rollout plan names no model")
        candidate = data.get("to", data.get("candidate"))
        if candidate is None:
            raise InvalidInput(f"rollout plan for {name!r} names no candidate version; give to = <version>")
        strategy = str(data.get("strategy", "canary"))
        values: dict[str, Any] = {
            "model": name,
            "candidate": _whole(candidate, "candidate version"),
            "alias": data.get("alias", "production"),
            "strategy": strategy,
        }
        if "steps" in data:
            values["steps"] = parse_steps(data["steps"])
        for key in ("interval", "max_wait", "hold"):
            if data.get(key) is not None:
                values[key] = parse_seconds(data[key], key)
        for key in ("min_requests", "sample_size"):
            if data.get(key) is not None:
                values[key] = _whole(data[key], key)
        if data.get("routing_key") not in (None, ""):
            values["routing_key"] = RoutingKey.parse(data["routing_key"])
        if "wait_for_labels" in data:
            values["wait_for_labels"] = data["wait_for_labels"]
        if data.get("confidence") is not None:
            values["confidence"] = _number(data["confidence"], "confidence")
        if "checks" in data:
            values["checks"] = _parse_checks(data["checks"], strategy)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The plan as TOML-ready keys; ``from_dict`` reads it back to an equal plan."""
        checks = {check.name: check.to_dict() for check in self.checks}
        for default in DEFAULT_CHECKS[self.strategy]:
            checks.setdefault(default.name, {"enabled": False})
        data: dict[str, Any] = {
            "model": self.model,
            "to": self.candidate,
            "alias": self.alias,
            "strategy": self.strategy,
            "steps": list(self.steps),
            "interval": self.interval,
            "min_requests": self.min_requests,
            "max_wait": self.max_wait,
            "hold": self.hold,
            "checks": checks,
            "wait_for_labels": self.wait_for_labels,
        }
        if self.routing_key is not None:
            data["routing_key"] = str(self.routing_key)
        if self.sample_size is not None:
            data["sample_size"] = self.sample_size
        if self.strategy == "ab":
            data["confidence"] = self.confidence
        return data


def plan_from_layers(
    model: str, declared: Mapping[str, Any], given: Mapping[str, Any], *, where: str = ""
) -> RolloutPlan:
    """A plan from a declared one (``[rollouts.<model>]`` or a plan file, read at ``where``) with the keys
    ``given`` on the command line or in code on top; a given key of None is not given. When ``given``
    changes the strategy without giving steps, the declared steps (meant for the other strategy) are
    dropped and the new strategy's defaults apply."""
    overrides = {key: value for key, value in given.items() if value is not None}
    refuse_unknown_keys(overrides, _KEYS, "rollout plan")
    base = dict(declared)
    changed = "strategy" in overrides and overrides["strategy"] != base.get("strategy", "canary")
    if changed and "steps" not in overrides:
        base.pop("steps", None)
    if "to" in overrides or "candidate" in overrides:
        base.pop("to", None)
        base.pop("candidate", None)
    merged = {**base, **overrides}
    if not where or not declared:
        return RolloutPlan.from_dict(merged, model=model)
    return RolloutPlan.from_dict(merged, model=model, where=f"{where} with the options given")


def parse_steps(value: object) -> tuple[int, ...]:
    """``"5,25,50,100"``, ``[5, 25, 50, 100]`` or a single number, as whole percentages."""
    if isinstance(value, str):
        parts: list[object] = [part.strip() for part in value.split(",")]
        if any(part == "" for part in parts):
            raise InvalidInput(
                f"steps are percentages separated by commas, like 5,25,50,100; got {value[:60]!r}"
            )
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    if not parts:
        raise InvalidInput("steps must list at least one percentage, like 5,25,50,100")
    return tuple(
        _whole(part, "a step", shown="steps are whole percentages, like 5,25,50,100") for part in parts
    )


def parse_seconds(value: object, what: str) -> float:
    """A duration as seconds: a number of seconds or text like ``90s``, ``10m``, ``1h``."""
    if isinstance(value, bool):
        raise InvalidInput(f"{what} is a duration like 10m or a number of seconds, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return parse_duration(str(value), what=what).total_seconds()


def _check_steps(strategy: str, steps: tuple[int, ...]) -> None:
    shown = ",".join(str(step) for step in steps)
    if strategy == "canary":
        if any(not 1 <= step <= 100 for step in steps):
            raise InvalidInput(f"canary steps are percentages from 1 to 100, got {shown}")
        if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
            raise InvalidInput(f"canary steps must increase, like 5,25,50,100; got {shown}")
        if steps[-1] != 100:
            raise InvalidInput(
                f"canary steps must end at 100 (the step that moves the alias); got {shown}: add 100"
            )
    elif strategy == "ab":
        if len(steps) != 1 or not 1 <= steps[0] <= 99:
            raise InvalidInput(
                "an A/B test holds one split: one step from 1 to 99 (the candidate's share), like 50; "
                f"got {shown}"
            )
    elif strategy == "blue_green" and steps != (100,):
        raise InvalidInput(f"blue_green switches all traffic at once: its only step is 100; got {shown}")
    elif strategy == "shadow" and steps != (0,):
        raise InvalidInput(f"shadow returns no candidate answers: its only step is 0; got {shown}")


def _check_checks(strategy: str, checks: tuple[Check, ...]) -> None:
    seen: set[str] = set()
    for check in checks:
        if not isinstance(check, Check):
            raise InvalidInput(f"checks must be Check objects, got {type(check).__name__}")
        if check.name in seen:
            raise InvalidInput(f"check {check.name!r} is given twice")
        seen.add(check.name)
        if strategy not in CHECK_STRATEGIES[check.name]:
            raise InvalidInput(
                f"check {check.name!r} compares the two answers to one request, which only a shadow "
                f"rollout has; a {strategy} rollout cannot run it"
            )


def _parse_checks(value: object, strategy: str) -> tuple[Check, ...]:
    """The plan's ``[checks.<name>]`` tables merged over the strategy's defaults."""
    if not isinstance(value, Mapping):
        raise InvalidInput("checks is a table per check, like [checks.error_rate] threshold = 0.02")
    defaults = {check.name: check for check in DEFAULT_CHECKS.get(strategy, ())}
    merged: dict[str, Check | None] = dict(defaults)
    for name, settings in value.items():
        if name not in CHECK_STRATEGIES:
            raise InvalidInput(f"unknown check {str(name)[:60]!r}{closest_hint(str(name), CHECKS)}")
        if not isinstance(settings, Mapping):
            raise InvalidInput(f"check {name!r} is a table with threshold and failure_limit")
        refuse_unknown_keys(settings, _CHECK_KEYS, f"check {name!r}")
        if settings.get("enabled", True) is False:
            merged[name] = None
            continue
        base = defaults.get(name)
        if "threshold" not in settings and base is None:
            raise InvalidInput(
                f"check {name!r} is not run by default in a {strategy} rollout: give its threshold"
            )
        merged[name] = Check(
            name,
            settings.get("threshold", base.threshold if base else 0.0),
            _whole(
                settings.get("failure_limit", base.failure_limit if base else 1),
                f"check {name!r} failure_limit",
            ),
        )
    return tuple(check for check in merged.values() if check is not None)


def _whole(value: object, what: str, *, shown: str | None = None) -> int:
    """A whole number from an int or its text ("5"), else an InvalidInput saying what was expected."""
    if isinstance(value, bool):
        raise InvalidInput(shown or f"{what} must be a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        number = whole_number(value.strip())
        if number is not None:
            return number
    got = f"got {_shown(value)}"
    raise InvalidInput(f"{shown}; {got}" if shown else f"{what} must be a whole number, {got}")


def _number(value: object, what: str) -> object:
    """A number from a number or its text ("0.95"); anything else is left for the field's own check."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise InvalidInput(f"{what} must be a number like 0.95, got {_shown(value)}") from None
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _require_whole(value: object, what: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{what} must be a whole number of at least {minimum}, got {_shown(value)}")


def _require_seconds(value: object, what: str, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number of seconds or a duration like 10m, got {_shown(value)}")
    if value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum:g} seconds, got {value:g}")
