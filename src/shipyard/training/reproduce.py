"""Reproducing a registered version: run its recorded spec on its recorded data and compare metrics.

The spec is the one stored with the version; the data is found by the content hash in its lineage, so a
dataset renamed or re-added later is still the same bytes. Differences in code commit or package versions
are reported beside the metric comparison, because they explain most mismatches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import Registry
from shipyard.registry.lineage import code_state, package_version
from shipyard.training.spec import TrainSpec


@dataclass(frozen=True)
class MetricComparison:
    name: str
    recorded: float
    reproduced: float | None

    def matches(self, tolerance: float) -> bool:
        if self.reproduced is None:
            return False
        return math.isclose(self.recorded, self.reproduced, rel_tol=tolerance, abs_tol=tolerance)


@dataclass(frozen=True)
class Reproduction:
    """The outcome of ``reproduce``: every metric side by side, and what else differed."""

    ref: str
    tolerance: float
    metrics: list[MetricComparison]
    differences: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(metric.matches(self.tolerance) for metric in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "tolerance": self.tolerance,
            "matches": self.matches,
            "metrics": [
                {
                    "name": m.name,
                    "recorded": m.recorded,
                    "reproduced": m.reproduced,
                    "matches": m.matches(self.tolerance),
                }
                for m in self.metrics
            ],
            "differences": self.differences,
        }


def reproduce(
    ref: str, *, registry: Registry | None = None, tolerance: float = 1e-6, progress: bool = False
) -> Reproduction:
    """Re-run the training recorded with ``ref`` (without registering) and compare its metrics."""
    own = registry is None
    active = registry if registry is not None else Registry()
    try:
        version = active.resolve(ref)
        if not version.training or "spec" not in version.training:
            raise InvalidInput(
                f"{version.ref} was not trained from a spec (it was registered directly), so it cannot be "
                "reproduced; train with 'shipyard train spec.toml' to record one"
            )
        data_hash = (version.lineage.get("datasets") or {}).get("data")
        dataset = active.datasets.find_by_hash(data_hash) if data_hash else None
        if dataset is None:
            raise NotFound(
                f"the training data of {version.ref} (sha256 {str(data_hash)[:12]}…) is not in this workspace"
            )
        recorded_spec = TrainSpec.load(version.training["spec"])
        spec = recorded_spec.model_copy(
            update={"data": recorded_spec.data.model_copy(update={"dataset": dataset.ref, "path": None})}
        )
        from shipyard.training.trainer import train  # the trainer loads model selection: only when used

        result = train(spec, registry=active, register=False, progress=progress)
        rerun = result.report.registered_metrics()
        comparisons = [
            MetricComparison(name, float(value), rerun.get(name))
            for name, value in sorted(version.metrics.items())
        ]
        return Reproduction(version.ref, tolerance, comparisons, _differences(version.lineage))
    finally:
        if own:
            active.close()


def _differences(lineage: dict[str, Any]) -> list[str]:
    """What about the environment differs from when the version was trained."""
    notes = []
    recorded_code = lineage.get("code") or {}
    current = code_state()
    if recorded_code.get("commit") and current.get("commit") != recorded_code.get("commit"):
        notes.append(
            f"code commit differs: recorded {recorded_code['commit'][:12]}, "
            f"now {str(current.get('commit'))[:12]}"
        )
    if recorded_code.get("dirty"):
        notes.append("the recorded run had uncommitted changes; its exact code is unknown")
    for package, recorded in sorted((lineage.get("packages") or {}).items()):
        now = package_version(package)
        if now != recorded:
            notes.append(f"{package} differs: recorded {recorded}, now {now or 'not installed'}")
    return notes
