"""How much evidence a monitoring verdict needs, and how many windows one run may compute; per model.

Declared in the workspace's ``shipyard.toml`` (every key optional)::

    [monitoring]                          # every model
    max_windows = 10000                   # a longer range with this window is refused, a wider one suggested
    min_rows = { drift = 100, dataset_drift = 100, quality = 30, accuracy = 50 }

    [monitoring.models.fraud]             # one model: its keys replace those above
    min_rows = { drift = 500 }

Below a minimum a window still reports the figure, marked "not enough data (n rows, needs m)", but gives
no verdict: no feature or dataset drift, nothing stored for alerts to fire on. The defaults follow the
power of the tests behind each figure:

* ``drift`` (100 values of a feature): with 100 rows against a large reference, the Kolmogorov–Smirnov test
  at p < 0.05 finds a shift of 0.4 standard deviations 9 times in 10 (0.3: 7 in 10), and each of ten PSI
  bins expects about 10 rows; with 4 rows any point mass is "drift".
* ``dataset_drift`` (100 rows): the share of drifting features is a share of verdicts that need as many.
* ``quality`` (30 rows): enough that a missing rate of 10% is seen at least once 19 times in 20
  (0.9³⁰ ≈ 0.04); a rate from 4 rows moves by 25 points per row.
* ``accuracy`` (50 labelled rows): at an accuracy near 0.9 the 95% interval is then ±0.08; from 10
  labels it spans ±0.19, wider than most regressions worth an alert.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from shipyard.config import CONFIG_FILE, Settings
from shipyard.errors import InvalidInput, refuse_unknown_keys

#: A range is refused when it holds more windows than this (unless the workspace says otherwise).
DEFAULT_MAX_WINDOWS = 10_000


@dataclass(frozen=True)
class MinimumRows:
    """The fewest rows each kind of verdict needs in a window."""

    drift: int = 100  # non-null values of one feature, for its drift verdict
    dataset_drift: int = 100  # answered rows, for the dataset's drift share and verdict
    quality: int = 30  # answered rows, for missing, out-of-range and unseen shares
    accuracy: int = 50  # labelled rows, for the task's metrics

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MonitoringPolicy:
    min_rows: MinimumRows = MinimumRows()
    max_windows: int = DEFAULT_MAX_WINDOWS


_KEYS = ("max_windows", "min_rows", "models")
_MODEL_KEYS = ("max_windows", "min_rows")
_MINIMUMS = tuple(field.name for field in fields(MinimumRows))


def load_monitoring_policy(settings: Settings, model: str) -> MonitoringPolicy:
    """The policy of ``model`` from the workspace's shipyard.toml (the defaults where it says nothing)."""
    path = settings.home / CONFIG_FILE
    if not path.is_file():
        return MonitoringPolicy()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path.name} is not valid TOML: {exc}") from None
    return monitoring_policy_from_dict(document.get("monitoring") or {}, model)


def monitoring_policy_from_dict(section: Mapping[str, Any], model: str) -> MonitoringPolicy:
    """The policy of ``model`` from a ``[monitoring]`` table; InvalidInput naming a wrong key or value."""
    _table(section, "[monitoring]")
    refuse_unknown_keys(section, _KEYS, "[monitoring]")
    policy = _apply(MonitoringPolicy(), section, "[monitoring]")
    models = _table(section.get("models", {}), "[monitoring.models]")
    own = models.get(model)
    if own is None:
        return policy
    where = f"[monitoring.models.{model}]"
    refuse_unknown_keys(_table(own, where), _MODEL_KEYS, where)
    return _apply(policy, own, where)


def _apply(policy: MonitoringPolicy, table: Mapping[str, Any], where: str) -> MonitoringPolicy:
    if "max_windows" in table:
        policy = replace(policy, max_windows=_count(table["max_windows"], f"{where} max_windows", least=1))
    if "min_rows" in table:
        given = _table(table["min_rows"], f"{where} min_rows")
        refuse_unknown_keys(given, _MINIMUMS, f"{where} min_rows")
        counts = {name: _count(value, f"{where} min_rows.{name}", least=0) for name, value in given.items()}
        policy = replace(policy, min_rows=replace(policy.min_rows, **counts))
    return policy


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a table of settings, got {str(value)[:40]!r}")
    return value


def _count(value: Any, what: str, *, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidInput(f"{what} must be a whole number of at least {least}, got {str(value)[:40]!r}")
    return value
