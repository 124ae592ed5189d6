"""``shipyard schedule`` (cron schedules of shipyard commands) and ``shipyard scheduler`` (runs them).

Defined here and registered by ``shipyard.cli.app``, like the other command groups.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry

schedule_app = typer.Typer(help="Run shipyard commands on cron schedules.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="The schedule's name.")]


@schedule_app.command("add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def schedule_add(
    context: typer.Context,
    name: NameArgument,
    cron: Annotated[str, typer.Option("--cron", help="minute hour day month weekday, e.g. '0 2 * * *'.")],
    timezone: Annotated[str, typer.Option("--timezone", "--tz", help="The cron's time zone.")] = "UTC",
    missed: Annotated[
        str, typer.Option("--missed", help="Missed runs: run_once (the newest), skip, or run_all.")
    ] = "run_once",
    as_json: JsonFlag = False,
) -> None:
    """Add a schedule: NAME --cron "0 2 * * *" -- score fraud@production -i data/ -o 'preds/{date}'."""
    from shipyard.scheduling import add_schedule

    # The commands a schedule may run are the root command's: read from the running command line, so this
    # module need not import the app that registers it.
    root = context.find_root().command
    commands = set(root.commands) if isinstance(root, typer.core.TyperGroup) else None
    with open_registry(changes=True) as registry:
        schedule = add_schedule(
            registry, name, cron, list(context.args), timezone=timezone, missed=missed, commands=commands
        )
        shown = schedule.to_dict()
    if as_json:
        render.emit_json(shown)
        return
    render.message(
        "schedule {} runs 'shipyard {}'; next at {}", name, " ".join(schedule.args), shown["next_run"]
    )


@schedule_app.command("list")
def schedule_list(as_json: JsonFlag = False) -> None:
    """Every schedule, with its next run."""
    from shipyard.scheduling import list_schedules

    with open_registry() as registry:
        schedules = [schedule.to_dict() for schedule in list_schedules(registry)]
    if as_json:
        render.emit_json(schedules)
        return
    render.table(
        None,
        ["name", "cron", "zone", "command", "missed", "next run"],
        [
            (
                s["name"],
                s["cron"],
                s["timezone"],
                " ".join(s["command"]),
                s["missed"],
                (s["next_run"] or "paused")[:19],
            )
            for s in schedules
        ],
    )


@schedule_app.command("history")
def schedule_history_command(
    name: Annotated[str | None, typer.Argument(help="Only this schedule.")] = None,
    last: Annotated[int, typer.Option("--last", "-n", help="How many, newest first.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Occurrences, newest first: status, rows, duration."""
    from shipyard.scheduling import schedule_history

    with open_registry() as registry:
        runs = schedule_history(registry, name, last)
    if as_json:
        render.emit_json(runs)
        return
    render.table(
        None,
        ["schedule", "for", "status", "rows", "rejected", "seconds", "exit", "detail"],
        [
            (
                run["schedule"],
                run["scheduled_for"][:16],
                run["status"],
                "—" if run["rows"] is None else f"{run['rows']:,}",
                "—" if run["rejected"] is None else f"{run['rejected']:,}",
                "—" if run["seconds"] is None else f"{run['seconds']:.1f}",
                "—" if run["exit_code"] is None else run["exit_code"],
                run["detail"],
            )
            for run in runs
        ],
    )


@schedule_app.command("remove")
def schedule_remove(name: NameArgument) -> None:
    """Remove a schedule (its history stays)."""
    from shipyard.scheduling import remove_schedule

    with open_registry(changes=True) as registry:
        remove_schedule(registry, name)
    render.message("removed schedule {}", name)


@schedule_app.command("pause")
def schedule_pause(name: NameArgument) -> None:
    """Stop running a schedule until it is resumed."""
    from shipyard.scheduling import set_enabled

    with open_registry(changes=True) as registry:
        set_enabled(registry, name, False)
    render.message("paused schedule {}", name)


@schedule_app.command("resume")
def schedule_resume(name: NameArgument) -> None:
    """Run a paused schedule again, from its next occurrence on."""
    from shipyard.scheduling import set_enabled

    with open_registry(changes=True) as registry:
        set_enabled(registry, name, True)
    render.message("resumed schedule {}", name)


def scheduler_command(
    interval: Annotated[float, typer.Option("--interval", help="Seconds between checks.", min=0.5)] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, wait for it, and exit.")] = False,
) -> None:
    """Run the schedules: every few seconds, whatever fell due (one occurrence never runs twice, even with
    several schedulers)."""
    from shipyard.scheduling import Scheduler

    with open_registry() as registry:
        scheduler = Scheduler(registry)
        if once:
            recovered = scheduler.recover()
            started = scheduler.tick(wait=True)
            render.message("ran {} occurrence(s)", len(recovered) + len(started))
            return
        render.message("scheduler checking every {} s; Ctrl-C to stop", f"{interval:g}")
        try:
            scheduler.run(interval=interval)
        except KeyboardInterrupt:
            scheduler.join()
