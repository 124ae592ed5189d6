"""``shipyard train`` and ``shipyard reproduce``: run a spec, show its report, re-check a version."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry

if TYPE_CHECKING:  # training imports scikit-learn's model selection: only load it for these commands
    from shipyard.training import TrainingReport
    from shipyard.training.trainer import Placement


def register_training_commands(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("reproduce")(reproduce_command)


def train_command(
    spec: Annotated[Path, typer.Argument(help="A training spec (TOML).")],
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Train and report, but do not register a version.")
    ] = False,
    ref_file: Annotated[
        Path | None,
        typer.Option("--ref-file", help="Write the registered version (e.g. fraud/4) to this file."),
    ] = None,
    on: Annotated[
        str,
        typer.Option(
            "--on",
            "--engine",
            help="local, or ray: fit as a task of a Ray cluster (this process reads and registers); "
            "--engine is the same option, named as score's.",
        ),
    ] = "local",
    ray_address: Annotated[
        str,
        typer.Option(
            "--ray-address",
            help="The Ray cluster for --on ray (ray://head:10001); default: the ray_address setting, else a "
            "local Ray.",
        ),
    ] = "",
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Train, cross-validate, evaluate on the hold-out and register the model a spec declares."""
    from shipyard.training import train

    with open_registry(changes=True) as registry:
        result = train(
            spec,
            registry=registry,
            register=not no_register,
            progress=not as_json,
            reason=reason,
            on=cast("Placement", on),  # train() refuses anything else, naming the choices
            ray_address=ray_address,
        )
    if ref_file is not None and result.version is not None:
        ref_file.write_text(result.version.ref + "\n", encoding="utf-8")
    if as_json:
        render.emit_json(
            {
                "version": result.version.ref if result.version else None,
                "dataset": result.dataset.ref,
                "holdout": result.holdout.ref,
                "report": result.report.to_dict(),
                "ran_on": result.ran_on,
            }
        )
        return
    show_report(result.report)
    if result.ran_on.get("engine") == "ray":
        render.message(
            "fitted on Ray: host {}, process {}", result.ran_on.get("host"), result.ran_on.get("pid")
        )
    if result.version is not None:
        render.message("registered [bold]{}[/] with its contract, profile and lineage", result.version.ref)
    else:
        render.message("not registered (--no-register)")


def show_report(report: TrainingReport) -> None:
    """The training report as tables: metrics, slices, confusion matrix, warnings."""
    render.message(
        "{} on {} ({} training rows, {} held out), {} cross-validation with {} folds",
        report.task,
        report.datasets.get("data", "?"),
        f"{report.train_rows:,}",
        f"{report.holdout_rows:,}",
        report.strategy,
        len(report.folds),
    )
    summary = report.cv_summary
    render.table(
        "metrics",
        ["metric", *[f"fold {fold.fold}" for fold in report.folds], "mean", "std", "hold-out"],
        [
            (
                name,
                *[fold.metrics.get(name) for fold in report.folds],
                summary[name]["mean"],
                summary[name]["std"],
                report.holdout.get(name),
            )
            for name in summary
        ],
    )
    if report.slices:
        names = list(report.holdout)
        render.table(
            "hold-out metrics per slice",
            ["slice", "rows", *names],
            [(f"{s.column} = {s.value}", s.rows, *[s.metrics.get(n) for n in names]) for s in report.slices],
        )
    if report.confusion:
        labels = report.confusion_labels
        render.table(
            "confusion matrix (rows: true, columns: predicted)",
            ["", *labels],
            [(label, *row) for label, row in zip(labels, report.confusion["matrix"], strict=True)],
        )
    render.message(
        "final fit {} s; predict {} ms/row in batch, {} ms for one row",
        f"{report.fit_seconds:.2f}",
        f"{report.predict_ms_per_row:.4f}",
        f"{report.single_row_ms:.2f}",
    )
    for warning in report.warnings:
        render.message("[yellow]warning:[/] {}", warning)


def reproduce_command(
    reference: Annotated[str, typer.Argument(help="A trained model version: fraud/3, fraud@production.")],
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Allowed relative (and absolute) metric difference.")
    ] = 1e-6,
    as_json: JsonFlag = False,
) -> None:
    """Re-run a version's recorded spec on its recorded data; exit code 1 when metrics differ."""
    from shipyard.training import reproduce

    with open_registry(changes=True) as registry:
        outcome = reproduce(reference, registry=registry, tolerance=tolerance, progress=not as_json)
    if as_json:
        render.emit_json(outcome.to_dict())
    else:
        render.table(
            f"reproducing {outcome.ref} (tolerance {tolerance:g})",
            ["metric", "recorded", "reproduced", "match"],
            [
                (m.name, m.recorded, m.reproduced, "yes" if m.matches(tolerance) else "NO")
                for m in outcome.metrics
            ],
        )
        for note in outcome.differences:
            render.message("[yellow]note:[/] {}", note)
        render.message("reproduced: {}", "yes" if outcome.matches else "NO — metrics differ")
    if not outcome.matches:
        raise typer.Exit(1)
