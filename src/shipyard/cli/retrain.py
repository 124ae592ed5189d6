"""``shipyard retrain``: run a model's retraining policy now, and list its past runs.

A thin layer over ``shipyard.retraining``: the policy is ``[retraining.<model>]`` in shipyard.toml, and
every decision (cooldown, one run at a time, each step) is the service's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry, server_or_workspace
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.store.retrain_runs import RetrainRunRecord

retrain_app = typer.Typer(
    help="Retraining: train on fresh data, gate against the champion, roll out; on demand or by trigger.",
    no_args_is_help=True,
)


@retrain_app.command("run")
def retrain_run(
    model: Annotated[str, typer.Argument(help="The model whose [retraining.<model>] policy runs.")],
    trigger: Annotated[
        str,
        typer.Option(
            "--trigger",
            help="What started the run, as its history records it: manual, or alert (with --rule; an alert "
            "rule's retrain action passes both).",
        ),
    ] = "manual",
    rule: Annotated[
        str | None, typer.Option("--rule", help="With --trigger alert: the alert rule that fired.")
    ] = None,
    event: Annotated[
        int | None,
        typer.Option(
            "--event", help="With --trigger alert: its alert event (shipyard alerts history).", min=1
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the model's retraining policy once, now; exit 1 when the run fails."""
    from shipyard.retraining import load_policy
    from shipyard.retraining.service import run_retraining

    detail = _trigger_detail(trigger, rule, event)
    with open_registry(changes=True) as registry:
        policy = load_policy(registry.settings, model)
        run = run_retraining(registry, policy, trigger=trigger, detail=detail)
    if as_json:
        render.emit_json(run.to_dict())
    else:
        render.message(
            "retraining run {} of {}: {} at step {}: {}", run.id, run.model, run.state, run.step, run.reason
        )
    if run.state == "failed":
        raise typer.Exit(1)


@retrain_app.command("watch")
def retrain_watch(
    once: Annotated[bool, typer.Option("--once", help="One look at the triggers, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between two looks at the triggers.", min=1.0)
    ] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Run each policy's due triggers (its schedule, a named alert firing, enough new labels) as they come;
    the runs train in this process."""
    from shipyard.retrain_runner import RetrainRunner, RetrainRunnerConfig

    with open_registry(changes=True) as registry:
        runner = RetrainRunner(registry.settings, RetrainRunnerConfig(interval))
    if not once:
        render.message("watching the retraining triggers every {} s; Ctrl-C to stop", f"{interval:g}")
        runner.run()
        return
    done = runner.run_once()
    if as_json:
        render.emit_json([run.to_dict() for run in done])
        return
    if not done:
        render.message("no retraining trigger is due")
    for run in done:
        render.message(
            "retraining run {} of {} ({}): {} at step {}: {}",
            run.id,
            run.model,
            run.trigger,
            run.state,
            run.step,
            run.reason,
        )


@retrain_app.command("history")
def retrain_history(
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs, newest first.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Past retraining runs, newest first: trigger, data, candidate, gate, rollout, how each ended."""
    from shipyard.store.retrain_runs import RetrainRunRepository

    runs = server_or_workspace(
        lambda server: server.retrain_history(model, limit=limit),
        lambda registry: RetrainRunRepository(registry.db, registry.actor).history(model, limit=limit),
    )
    if as_json:
        render.emit_json([run.to_dict() for run in runs])
        return
    render.table(
        None,
        [
            *("id", "model", "trigger", "state", "step", "data", "candidate", "rollout"),
            *("started", "seconds", "reason"),
        ],
        [
            (
                run.id,
                run.model,
                _trigger_label(run),
                run.state,
                run.step,
                run.details.get("dataset"),
                run.details.get("candidate"),
                run.details.get("rollout"),
                run.started_at,
                f"{(run.ended_at - run.started_at).total_seconds():.1f}" if run.ended_at else None,
                run.reason,
            )
            for run in runs
        ],
    )


def _trigger_detail(trigger: str, rule: str | None, event: int | None) -> dict[str, Any]:
    """What the run's history records about its trigger: for an alert, the rule and event that fired."""
    if trigger == "alert":
        if not rule:
            raise InvalidInput("--trigger alert needs --rule NAME, the alert rule that fired")
        return {"rule": rule, **({"event": event} if event is not None else {})}
    if trigger != "manual":
        raise InvalidInput(
            f"--trigger is manual or alert, not {trigger!r}; schedules and labels start runs through "
            "'shipyard retrain watch'"
        )
    if rule is not None or event is not None:
        raise InvalidInput("--rule and --event name the alert that started a run; add --trigger alert")
    return {}


def _trigger_label(run: RetrainRunRecord) -> str:
    """The trigger as the history table shows it: an alert run names its rule."""
    rule = run.trigger_detail.get("rule")
    return f"{run.trigger} {rule}" if run.trigger == "alert" and rule else run.trigger
