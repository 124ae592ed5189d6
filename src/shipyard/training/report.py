"""The training report: what a training run measured, kept with the version and shown to people.

It holds per-fold metrics with their mean and spread, hold-out metrics, metrics per slice, the confusion
matrix, timings, and the representativeness warnings. ``to_markdown`` writes the training section of the
model card; the CLI renders the same data as tables.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoldResult:
    fold: int
    train_rows: int
    validation_rows: int
    fit_seconds: float
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class SliceResult:
    column: str
    value: Any
    rows: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class TrainingReport:
    model: str
    task: str
    target: str
    features: list[str]
    classes: list[Any] | None
    strategy: str
    datasets: dict[str, str]
    train_rows: int
    holdout_rows: int
    folds: list[FoldResult]
    holdout: dict[str, float | None]
    slices: list[SliceResult]
    confusion: dict[str, Any] | None
    fit_seconds: float
    predict_ms_per_row: float
    single_row_ms: float
    warnings: list[str] = field(default_factory=list)

    @property
    def cv_summary(self) -> dict[str, dict[str, float | None]]:
        """Mean and standard deviation of each metric across folds (None when a fold could not compute it)."""
        summary: dict[str, dict[str, float | None]] = {}
        names = list(self.folds[0].metrics) if self.folds else []
        for name in names:
            values = [fold.metrics[name] for fold in self.folds]
            present = [value for value in values if value is not None]
            if len(present) != len(values) or not present:
                summary[name] = {"mean": None, "std": None}
                continue
            spread = statistics.stdev(present) if len(present) > 1 else 0.0
            summary[name] = {"mean": statistics.fmean(present), "std": spread}
        return summary

    def registered_metrics(self) -> dict[str, float]:
        """Flat metrics for the registry: hold-out metrics by name, CV as ``cv_<name>_mean`` / ``_std``."""
        flat = {name: value for name, value in self.holdout.items() if value is not None}
        for name, stats in self.cv_summary.items():
            if stats["mean"] is not None and stats["std"] is not None:
                flat[f"cv_{name}_mean"] = stats["mean"]
                flat[f"cv_{name}_std"] = stats["std"]
        return flat

    @property
    def confusion_labels(self) -> list[str]:
        """The confusion matrix's labels, written once for both axes (rows: true, columns: predicted)."""
        return [class_label(label) for label in (self.confusion or {}).get("labels", [])]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cv_summary"] = self.cv_summary
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingReport:
        values = {key: value for key, value in data.items() if key != "cv_summary"}
        values["folds"] = [FoldResult(**fold) for fold in data["folds"]]
        values["slices"] = [SliceResult(**item) for item in data["slices"]]
        return cls(**values)

    def to_markdown(self) -> str:
        """The training section of the model card."""
        lines = [
            "## Training",
            "",
            f"- Task: {self.task}, target `{self.target}`, {len(self.features)} features",
            f"- Data: {', '.join(f'{role} `{ref}`' for role, ref in self.datasets.items())}",
            f"- Rows: {self.train_rows:,} for training, {self.holdout_rows:,} held out",
            f"- Cross-validation: {self.strategy}, {len(self.folds)} folds",
            f"- Final fit {self.fit_seconds:.2f} s; predict {self.predict_ms_per_row:.4f} ms/row in batch, "
            f"{self.single_row_ms:.2f} ms for one row",
            "",
            "| metric | cross-validation (mean ± std) | hold-out |",
            "|---|---|---|",
        ]
        for name, stats in self.cv_summary.items():
            cv = "n/a" if stats["mean"] is None else f"{stats['mean']:.4f} ± {stats['std']:.4f}"
            lines.append(f"| {name} | {cv} | {_number(self.holdout.get(name))} |")
        if self.slices:
            names = list(self.holdout)
            lines += [
                "",
                "### Hold-out metrics per slice",
                "",
                "| slice | rows | " + " | ".join(names) + " |",
            ]
            lines.append("|---|---|" + "---|" * len(names))
            for item in self.slices:
                cells = " | ".join(_number(item.metrics.get(name)) for name in names)
                lines.append(f"| {item.column} = {item.value} | {item.rows} | {cells} |")
        if self.confusion:
            labels = self.confusion_labels
            lines += ["", "### Confusion matrix (hold-out; rows: true, columns: predicted)", ""]
            lines.append("| | " + " | ".join(labels) + " |")
            lines.append("|---|" + "---|" * len(labels))
            for label, row in zip(labels, self.confusion["matrix"], strict=True):
                lines.append(f"| **{label}** | " + " | ".join(str(count) for count in row) + " |")
        if self.warnings:
            lines += ["", "### Warnings", ""]
            lines += [f"- {warning}" for warning in self.warnings]
        return "\n".join(lines) + "\n"


def class_label(value: Any) -> str:
    """A class as the model predicts it (``0``, ``0.0``, ``fraud``): never rounded like a metric, so the
    label reads the same wherever the class appears."""
    return str(value)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
