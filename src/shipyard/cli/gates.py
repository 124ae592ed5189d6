"""``shipyard gate check`` and ``shipyard promote``: CI-friendly gates with meaningful exit codes.

``gate check`` exits 0 when every check passes, 1 when a check failed, 2 when the gate could not run at all
(unknown version, no evaluation data, a policy naming unknown metrics or columns). With ``SHIPYARD_URL`` set,
``promote`` gates on that server, by its policy and data, and prints the report it answers; ``gate check``
runs where the workspace is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry, remote, require_workspace
from shipyard.errors import GateError, GateFailed, InvalidInput, ShipyardError

if TYPE_CHECKING:
    from shipyard.gates import GateReport
    from shipyard.registry import AliasChange

gate_app = typer.Typer(
    help="Promotion gates: the checks a version must pass to reach an alias.", no_args_is_help=True
)

ToOption = Annotated[str, typer.Option("--to", help="The alias the version would move to, e.g. production.")]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="A TOML file with gates.<model>.<alias> tables (default: shipyard.toml)."),
]
_STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]skip[/]"}


def show_gate_report(report: GateReport) -> None:
    """The gate report as a table, then its verdict."""
    render.message(
        "gate {} → {} (current holder: {}; policy: {}; evaluation data: {}, {} rows)",
        report.candidate,
        report.alias,
        report.champion or "none",
        report.policy,
        report.evaluation_data or "none",
        report.evaluation_rows,
    )
    render.status_table(
        ["check", "measured", "threshold", "result", "detail"],
        [(r.check, r.measured, r.threshold, r.status, r.detail) for r in report.results],
        status_column=3,
        styles=_STATUS_STYLE,
    )
    for note in report.notes:
        render.message("[yellow]note:[/] {}", note)
    render.message("[bold]{}[/]", report.summary())


@gate_app.command("check")
def gate_check(
    reference: Annotated[str, typer.Argument(help="The candidate version: fraud/4.")],
    to: ToOption,
    policy_file: PolicyOption = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write a JUnit XML report here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the gate without moving anything; exit 0 pass, 1 a check failed, 2 the gate could not run."""
    from shipyard.gates import check_gate

    require_workspace()  # the gate scores the evaluation data, which is where the workspace is
    try:
        with open_registry() as registry:
            report = check_gate(registry, reference, to, policy_file=policy_file)
    except ShipyardError as exc:  # anything that stops the gate from running is "could not run"
        raise GateError(f"the gate could not run: {exc}") from exc
    if junit is not None:
        junit.write_text(report.to_junit(), encoding="utf-8")
    if as_json:
        render.emit_json(report.to_dict())
    else:
        show_gate_report(report)
    if not report.passed:
        raise typer.Exit(1)


def promote_command(
    reference: Annotated[str, typer.Argument(help="The candidate version: fraud/4.")],
    to: ToOption,
    force: Annotated[
        bool, typer.Option("--force", help="Move the alias even if checks fail (needs --reason; audited).")
    ] = False,
    reason: ReasonOption = "",
    policy_file: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the gate and move the alias only when every check passes."""
    from shipyard.gates import GateReport

    try:
        report, change = _promote(reference, to, force=force, reason=reason, policy_file=policy_file)
    except GateFailed as exc:  # show what failed, and why, before the one-line error and exit code 1
        if isinstance(exc.report, GateReport):
            _show_refusal(exc.report, as_json=as_json)
        raise
    if as_json:
        render.emit_json({"gate": report.to_dict(), "alias": change.to_dict()})
        return
    show_gate_report(report)
    before = f"v{change.previous_version}" if change.previous_version else "(unset)"
    verb = "FORCED" if change.action == "promote.forced" else "promoted"
    render.message("{}: {}@{} {} → v{}", verb, change.model, change.alias, before, change.version)


def _promote(
    reference: str, to: str, *, force: bool, reason: str, policy_file: Path | None
) -> tuple[GateReport, AliasChange]:
    """Gate and move here, or on the server ``SHIPYARD_URL`` names: it gates by its own workspace's policy
    and data, and answers the report (a refusal carries it too)."""
    from shipyard.gates import GateReport, promote

    server = remote(changes=True)
    if server is None:
        with open_registry(changes=True) as registry:
            return promote(registry, reference, to, force=force, reason=reason, policy_file=policy_file)
    if policy_file is not None:
        raise InvalidInput(
            "--policy reads a file on this machine, but the server gates by its own workspace's policy "
            "(its shipyard.toml); drop --policy, or unset SHIPYARD_URL to gate in a workspace here"
        )
    try:
        with server:
            gate, change = server.promote(reference, to, force=force, reason=reason)
    except GateFailed as refusal:
        report: Any = refusal.report
        raise GateFailed(str(refusal), GateReport.from_dict(report) if report else None) from None
    return GateReport.from_dict(gate), change


def _show_refusal(report: GateReport, *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"gate": report.to_dict(), "alias": None})
    else:
        show_gate_report(report)
