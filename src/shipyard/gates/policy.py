"""Gate policies: the checks a version must pass to reach an alias, declared in TOML.

Policies live in the workspace's ``shipyard.toml`` (or the file the ``gates_file`` setting names), under
``[gates.<model>.<alias>]``, with ``[gates."*".<alias>]`` as the fallback for every model::

    [gates.fraud.production]
    metrics = { roc_auc = ">= 0.85", log_loss = "<= 0.45" }
    regression = { tolerance = 0.005, bootstrap = { samples = 1000, confidence = 0.95 } }
    slices = { columns = ["channel"], floor = { roc_auc = 0.75 }, tolerance = 0.05 }
    invariance = [{ column = "customer_id" }]
    directional = [{ column = "amount", delta = 100.0, direction = "increasing" }]
    tests = ["checks.fraud:never_flags_tiny_amounts"]
    latency = { p99_single_ms = 25, p99_batch_ms = 80 }
    artifact = { max_size_mb = 50 }
    not_comparable = "fail"          # or "skip": when the current alias holder cannot score the rows

Without a declared policy a gate still checks artifact integrity, schema compatibility and "no regression
on the primary metric" against the current alias holder, and measures latency.
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shipyard.config import CONFIG_FILE, Settings
from shipyard.errors import GateError
from shipyard.training.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<)\s*(-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)\s*$")
KNOWN_METRICS = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Threshold(_Strict):
    """``roc_auc >= 0.85`` as (operator, value)."""

    comparison: Literal[">=", ">", "<=", "<"]
    value: float

    @classmethod
    def parse(cls, text: str, metric: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if match is None:
            raise ValueError(f"threshold for {metric!r} must look like '>= 0.85', got {text!r}")
        return cls(comparison=match.group(1), value=float(match.group(2)))

    def holds(self, measured: float) -> bool:
        return _COMPARISONS[self.comparison](measured, self.value)

    def __str__(self) -> str:
        return f"{self.comparison} {self.value:g}"


class BootstrapPolicy(_Strict):
    samples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)


class RegressionPolicy(_Strict):
    """No metric worse than the current alias holder's, beyond the tolerance, on the same rows."""

    metrics: list[str] | None = Field(None, description="default: the task's primary metric")
    tolerance: float = Field(0.0, ge=0.0)
    relative: bool = Field(False, description="tolerance as a fraction of the champion's value")
    bootstrap: BootstrapPolicy | None = None


class SlicePolicy(_Strict):
    columns: list[str] = Field(default_factory=list, description="default: the slices of the training spec")
    floor: dict[str, float] = Field(default_factory=dict, description="no slice below this, per metric")
    tolerance: float | None = Field(None, ge=0.0, description="no slice worse than the champion's by more")
    metrics: list[str] | None = Field(None, description="metrics compared with the champion per slice")
    min_rows: int = Field(30, ge=1, description="smaller segments are reported, not judged")


class InvariancePolicy(_Strict):
    """Changing ``column`` must not move the prediction by more than ``epsilon``."""

    column: str
    epsilon: float = Field(1e-6, ge=0.0)
    values: list[Any] | None = Field(None, description="set the column to each of these; default: shuffle it")


class DirectionalPolicy(_Strict):
    """Raising ``column`` by ``delta`` must not lower (``increasing``) or raise (``decreasing``) the score."""

    column: str
    delta: float
    direction: Literal["increasing", "decreasing"] = "increasing"
    tolerance: float = Field(1e-9, ge=0.0)


class LatencyPolicy(_Strict):
    p99_single_ms: float | None = Field(None, gt=0)
    p99_batch_ms: float | None = Field(None, gt=0)
    batch_rows: int = Field(100, ge=1)
    repeats: int = Field(200, ge=10, le=10_000)


class ArtifactPolicy(_Strict):
    max_size_mb: float | None = Field(None, gt=0)


class GatePolicy(_Strict):
    """Every check of one gate. The defaults are the gate every promotion gets without a policy."""

    metrics: dict[str, Threshold] = Field(default_factory=dict)
    regression: RegressionPolicy | None = RegressionPolicy()
    slices: SlicePolicy | None = None
    invariance: list[InvariancePolicy] = Field(default_factory=list)
    directional: list[DirectionalPolicy] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list, description="import paths of test functions")
    latency: LatencyPolicy = LatencyPolicy()
    schema_compatibility: bool = Field(True, alias="schema")
    not_comparable: Literal["fail", "skip"] = Field(
        "fail",
        description="what comparison checks report when the current alias holder cannot score the rows "
        "(a changed schema, an artifact that does not load): fail, or skip and judge the candidate alone",
    )
    artifact: ArtifactPolicy = ArtifactPolicy()
    evaluation_data: str | None = Field(
        None, description="dataset version; default: the candidate's hold-out"
    )
    source: str = Field("default policy", exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("metrics", mode="before")
    @classmethod
    def _parse_thresholds(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            name: Threshold.parse(text, name) if isinstance(text, str) else text
            for name, text in value.items()
        }

    def metric_names(self) -> set[str]:
        """Every metric the policy mentions (checked against what exists when it is loaded)."""
        names = set(self.metrics)
        if self.regression and self.regression.metrics:
            names.update(self.regression.metrics)
        if self.slices:
            names.update(self.slices.floor)
            names.update(self.slices.metrics or ())
        return names


def load_policy(settings: Settings, model: str, alias: str, *, policy_file: Path | None = None) -> GatePolicy:
    """The policy for ``model`` → ``alias`` from ``policy_file``, the gates file, or shipyard.toml."""
    path = policy_file or (Path(settings.gates_file) if settings.gates_file else settings.home / CONFIG_FILE)
    if not path.is_file():
        if policy_file is not None or settings.gates_file:
            raise GateError(f"gate policy file {str(path)!r} does not exist")
        return GatePolicy()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GateError(f"{path.name} is not valid TOML: {exc}") from None
    gates = document.get("gates", {})
    section = (gates.get(model) or {}).get(alias) or (gates.get("*") or {}).get(alias)
    if section is None:
        return GatePolicy()
    where = f"[gates.{model if alias in (gates.get(model) or {}) else '*'}.{alias}] in {path.name}"
    try:
        policy = GatePolicy.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise GateError(f"invalid gate policy {where}: {problems}") from None
    unknown = sorted(policy.metric_names() - KNOWN_METRICS.keys())
    if unknown:
        raise GateError(
            f"gate policy {where} names unknown metric(s) {', '.join(unknown)}; "
            f"known metrics: {', '.join(KNOWN_METRICS)}"
        )
    return policy.model_copy(update={"source": where})
