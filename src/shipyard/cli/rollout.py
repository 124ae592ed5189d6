"""``shipyard rollout``: start, watch, pause, resume, promote and abort rollouts, list past ones, and run
the controller that advances them (``run``) without a server.

A thin layer over ``shipyard.rollouts``: the plan comes from ``[rollouts.<model>]`` in shipyard.toml (or
``--plan FILE``) with the options given here on top, and every decision is the service's. With
``SHIPYARD_URL`` set, ``status``, ``history``, ``pause``, ``resume``, ``promote`` and ``abort`` go through
that server; ``start`` and ``run`` need the workspace itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry, server_or_workspace

if TYPE_CHECKING:
    from shipyard.registry import Registry
    from shipyard.rollouts import Rollout

rollout_app = typer.Typer(
    help="Rollouts: move an alias to a candidate by canary, shadow, A/B or blue-green.", no_args_is_help=True
)

ModelArgument = Annotated[str, typer.Argument(help="The model, e.g. fraud.")]
AliasOption = Annotated[str, typer.Option("--alias", "-a", help="The alias the rollout moves.")]


@rollout_app.command("start")
def rollout_start(
    model: ModelArgument,
    to: Annotated[int | None, typer.Option("--to", help="The candidate version.", min=1)] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", help="The alias to move [production].")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="canary, shadow, ab or blue_green [canary].")
    ] = None,
    steps: Annotated[
        str | None, typer.Option("--steps", help="The candidate's share at each step, in %: 5,25,50,100.")
    ] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Time per step: 10m, 1h.")] = None,
    routing_key: Annotated[
        str | None,
        typer.Option("--routing-key", help="Sticky routing by header:<Name> or column:<name>."),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="A TOML file with the plan's keys (instead of [rollouts.<model>])."),
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Load a candidate whose format can run code on load.")
    ] = False,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Start a rollout; the candidate must load and predict first. Options override the declared plan."""
    from shipyard.config import read_rollout_plan
    from shipyard.rollouts import service
    from shipyard.rollouts.plan import plan_from_layers

    given: dict[str, Any] = {
        "to": to,
        "alias": alias,
        "strategy": strategy,
        "steps": steps,
        "interval": interval,
        "routing_key": routing_key,
    }
    with open_registry(changes=True) as registry:
        declared, where = read_rollout_plan(registry.settings, model, plan_file)
        plan = plan_from_layers(model, declared, given, where=where)
        rollout = service.start(registry, plan, reason=reason, trust=trust)
    if as_json:
        render.emit_json(rollout.to_dict())
        return
    render.message(
        "rollout {} started: {}@{} v{} → v{}, {}, steps {}; the candidate answers {} of live traffic now",
        rollout.id,
        rollout.model,
        rollout.alias,
        rollout.stable,
        rollout.candidate,
        rollout.strategy,
        ",".join(str(step) for step in rollout.plan.steps),
        _share(rollout),
    )
    flag = "" if rollout.alias == "production" else f" --alias {rollout.alias}"
    render.message(
        "the rollout controller beside 'shipyard serve' (or 'shipyard rollout run') analyses each step and "
        "moves it on; watch it with 'shipyard rollout status {}'",
        rollout.model,
    )
    render.message(
        "end it by hand with 'shipyard rollout promote {}{}' or 'shipyard rollout abort {}{}'",
        rollout.model,
        flag,
        rollout.model,
        flag,
    )


@rollout_app.command("status")
def rollout_status(
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Only this alias.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The active rollouts (running or paused)."""
    from shipyard.rollouts import service

    rollouts = server_or_workspace(
        lambda server: server.rollout_status(model, alias=alias),
        lambda registry: service.status(registry, model, alias=alias),
    )
    if as_json:
        render.emit_json([rollout.to_dict() for rollout in rollouts])
        return
    if not rollouts:
        where = f" on {model}" if model else ""
        render.message("no active rollout{}; past ones: shipyard rollout history", where)
        return
    render.table(
        None,
        [
            "id",
            "alias",
            "strategy",
            "stable",
            "candidate",
            "state",
            "step",
            "candidate share",
            "since",
            "reason",
        ],
        [
            (
                r.id,
                f"{r.model}@{r.alias}",
                r.strategy,
                r.stable,
                r.candidate,
                r.state,
                f"{r.step_index + 1}/{len(r.plan.steps)}",
                _share(r),
                r.updated_at,
                r.reason,
            )
            for r in rollouts
        ],
    )


@rollout_app.command("pause")
def rollout_pause(
    model: ModelArgument,
    alias: AliasOption = "production",
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Hold the rollout at its current step (the split stays as it is)."""
    rollout = _change("pause", model, alias, reason)
    _report(rollout, "paused at step {step} ({share} to the candidate)", as_json)


@rollout_app.command("resume")
def rollout_resume(
    model: ModelArgument,
    alias: AliasOption = "production",
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Let a paused rollout go on from its step."""
    rollout = _change("resume", model, alias, reason)
    _report(rollout, "running again at step {step} ({share} to the candidate)", as_json)


@rollout_app.command("promote")
def rollout_promote(
    model: ModelArgument,
    alias: AliasOption = "production",
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """End the rollout now by moving the alias to the candidate."""
    rollout = _change("promote", model, alias, reason)
    _report(rollout, "promoted: v{stable} → v{candidate}", as_json)


@rollout_app.command("abort")
def rollout_abort(
    model: ModelArgument,
    alias: AliasOption = "production",
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """End the rollout and send all traffic back to the stable version."""
    rollout = _change("abort", model, alias, reason)
    _report(rollout, "aborted ({reason}): it stays on v{stable}, all traffic goes to it", as_json)


@rollout_app.command("history")
def rollout_history(
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many rollouts, newest first.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Past and current rollouts, newest first, with the steps they took and their analyses."""
    from shipyard.rollouts import service

    rollouts = server_or_workspace(
        lambda server: server.rollout_history(model, limit=limit),
        lambda registry: service.history(registry, model, limit=limit),
    )
    if as_json:
        render.emit_json([rollout.to_dict() for rollout in rollouts])
        return
    render.table(
        None,
        [
            "id",
            "alias",
            "strategy",
            "from",
            "to",
            "state",
            "steps taken",
            "analyses",
            "started",
            "ended",
            "reason",
        ],
        [
            (
                r.id,
                f"{r.model}@{r.alias}",
                r.strategy,
                r.stable,
                r.candidate,
                r.state,
                " → ".join(f"{step.candidate_share:.0%}" for step in r.steps),
                _verdicts(r),
                r.started_at,
                r.ended_at,
                r.reason,
            )
            for r in rollouts
        ],
    )


@rollout_app.command("run")
def rollout_run(
    once: Annotated[
        bool, typer.Option("--once", help="One pass over the active rollouts, then exit.")
    ] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between two passes.", min=0.5)] = 5.0,
    as_json: JsonFlag = False,
) -> None:
    """Run the rollout controller without a server: analyse each running rollout's step when its interval
    has run, and move it on, promote, abort or fail it. 'shipyard serve' runs it already."""
    from shipyard.rollout_runner import RolloutRunner, RolloutRunnerConfig

    with open_registry(changes=True) as registry:
        runner = RolloutRunner(registry.settings, RolloutRunnerConfig(interval))
    if not once:
        render.message("advancing rollouts every {} s; Ctrl-C to stop", f"{interval:g}")
        runner.run()
        return
    done = runner.run_once()
    if as_json:
        render.emit_json([transition.to_dict() for transition in done])
        return
    if not done:
        render.message("nothing to do: no running rollout has run its interval")
    for transition in done:
        render.message(
            "rollout {} of {}@{}: {} ({}, step {}, {} to the candidate): {}",
            transition.rollout_id,
            transition.model,
            transition.alias,
            transition.action,
            transition.state,
            transition.step_index + 1,
            f"{transition.candidate_share:.0%}",
            transition.reason,
        )


def _change(
    action: Literal["pause", "resume", "abort", "promote"], model: str, alias: str, reason: str
) -> Rollout:
    """Pause, resume, promote or abort the rollout of ``model@alias``, here or on the server."""
    from shipyard.rollouts import service

    def here(registry: Registry) -> Rollout:
        changed: Rollout = getattr(service, action)(registry, model, alias=alias, reason=reason)
        return changed

    return server_or_workspace(
        lambda server: server.change_rollout(action, model, alias=alias, reason=reason), here, changes=True
    )


def _report(rollout: Rollout, what: str, as_json: bool) -> None:
    """Print ``rollout`` as JSON, or as one line: ``what`` may name the step, share, versions and reason."""
    if as_json:
        render.emit_json(rollout.to_dict())
        return
    said = what.format(
        step=rollout.step_index + 1,
        share=_share(rollout),
        stable=rollout.stable,
        candidate=rollout.candidate,
        reason=rollout.reason,
    )
    render.message("rollout {} of {}@{} {}", rollout.id, rollout.model, rollout.alias, said)


def _share(rollout: Rollout) -> str:
    if rollout.strategy == "shadow" and rollout.active:
        return "0% (every request mirrored)"
    return f"{rollout.candidate_share:.0%}"


def _verdicts(rollout: Rollout) -> str:
    """Each analysis's verdict, then an A/B test's verdict and the interval of each metric it compared."""
    verdicts = [str(analysis.get("verdict")) for step in rollout.steps for analysis in step.analyses]
    shown = ", ".join(verdicts) if verdicts else "-"
    ab = rollout.ab_verdict
    return shown if ab is None else f"{shown}; {ab.summary()}"
