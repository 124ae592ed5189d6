"""``shipyard alerts``: the rules, the alerts they raised, their history, silences and test notifications.

With ``SHIPYARD_URL`` set, ``list``, ``history``, ``silence``, ``silences`` and ``unsilence`` go through that
server; the rest read the workspace's rule files or evaluate there, so they run where it is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry, remote_operations, server_or_workspace
from shipyard.cli.monitor import parse_time
from shipyard.errors import InvalidInput

alerts_app = typer.Typer(
    help="Alert rules over the monitored figures: states, history, silences, channels.", no_args_is_help=True
)

ServedOption = Annotated[
    list[str] | None,
    typer.Option("--serve", help="A served reference whose default rules to include (repeatable)."),
]
WindowOption = Annotated[
    str | None,
    typer.Option(
        "--window",
        "-w",
        help="The monitoring window the default rules read (15m, 1h…) when neither [alerts.defaults] window "
        "nor their last evaluation by a server says; refused if it disagrees with them. Default 1h.",
    ),
]


@alerts_app.command("figures")
def alerts_figures(as_json: JsonFlag = False) -> None:
    """Every figure a rule can watch, and whether it is of a column."""
    from shipyard.monitoring.figures import catalogue

    figures = catalogue()
    if as_json:
        render.emit_json([{"figure": name, "per_column": per_column} for name, per_column in figures.items()])
        return
    render.table(
        None, ["figure", "of"], [(name, "a column" if c else "the window") for name, c in figures.items()]
    )


@alerts_app.command("rules")
def alerts_rules(served: ServedOption = None, window: WindowOption = None, as_json: JsonFlag = False) -> None:
    """The rules in force (declared, and the defaults of the --serve references), checked as at load."""
    config = _load(served, window)
    if as_json:
        render.emit_json([rule.to_dict() for rule in config.rules])
        return
    render.table(
        None,
        ["rule", "from", "model", "figure", "condition", "window", "for", "severity", "channels", "actions"],
        [
            (
                rule.name,
                rule.source,
                rule.model,
                rule.figure + (f"[{rule.column}]" if rule.column else ""),
                rule.condition.describe(),
                rule.to_dict()["window"],
                rule.to_dict()["for"],
                rule.severity,
                ", ".join(rule.channels),
                ", ".join(action.type for action in rule.actions) or "—",
            )
            for rule in config.rules
        ],
    )


@alerts_app.command("add")
def alerts_add(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    figure: Annotated[
        str, typer.Option("--figure", "-f", help="What to watch: see 'shipyard alerts figures'.")
    ],
    model: Annotated[str, typer.Option("--model", help="fraud@production, fraud/3, fraud or '*'.")] = "*",
    column: Annotated[str, typer.Option("--column", help="For a figure of a column: its name, or '*'.")] = "",
    window: Annotated[str, typer.Option("--window", "-w", help="Which monitoring windows it reads.")] = "1h",
    above: Annotated[float | None, typer.Option("--above", help="Fires above this.")] = None,
    below: Annotated[float | None, typer.Option("--below", help="Fires below this.")] = None,
    outside: Annotated[
        tuple[float, float] | None, typer.Option("--outside", help="Fires outside LOW HIGH.")
    ] = None,
    relative_to: Annotated[
        str | None,
        typer.Option("--relative-to", help="Test the change relative to this period's mean: 24h, 7d."),
    ] = None,
    hold: Annotated[str, typer.Option("--for", help="How long it must hold before firing.")] = "0s",
    severity: Annotated[str, typer.Option("--severity", help="info, warning or critical.")] = "warning",
    labels: Annotated[list[str] | None, typer.Option("--label", help="key=value (repeatable).")] = None,
    channels: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="Notify this channel (repeatable).")
    ] = None,
    actions: Annotated[
        list[str] | None,
        typer.Option(
            "--action",
            help="rollback, rollback:ALIAS, retrain (runs the model's retraining policy) or retrain:SPEC "
            "(repeatable).",
        ),
    ] = None,
    cooldown: Annotated[str, typer.Option("--cooldown", help="At most one action this often.")] = "1h",
    repeat: Annotated[
        str | None, typer.Option("--repeat", help="Notify again this often while firing.")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="What it means.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace an added rule of this name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a rule (kept in the database; the servers' monitoring runners pick it up at their next run)."""
    from shipyard.alerts import add_rule

    document: dict[str, Any] = {
        "name": name, "figure": figure, "model": model, "column": column, "window": window, "for": hold,
        "severity": severity, "cooldown": cooldown, "description": description,
        "labels": dict(_label(text) for text in labels or []),
        "actions": [_action(text) for text in actions or []],
    }  # fmt: skip
    for key, value in (
        ("above", above), ("below", below), ("outside", outside), ("relative_to", relative_to),
        ("channels", channels), ("repeat", repeat),
    ):  # fmt: skip
        if value is not None:
            document[key] = list(value) if isinstance(value, tuple) else value
    with open_registry(changes=True) as registry:
        rule = add_rule(registry, document, replace_existing=replace)
    if as_json:
        render.emit_json(rule.to_dict())
        return
    render.message("added alert rule {}: {} {}", rule.name, rule.figure, rule.condition.describe())


@alerts_app.command("remove")
def alerts_remove(name: Annotated[str, typer.Argument(help="An added rule's name.")]) -> None:
    """Remove a rule added with 'shipyard alerts add' (a rule from a TOML file is edited in its file)."""
    from shipyard.alerts import remove_rule

    with open_registry(changes=True) as registry:
        remove_rule(registry, name)
    render.message("removed alert rule {}", name)


@alerts_app.command("list")
def alerts_list(
    every: Annotated[bool, typer.Option("--all", help="Also resolved and inactive alerts.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The alerts pending or firing now."""
    from shipyard.alerts import current_alerts

    alerts = server_or_workspace(
        lambda server: server.current_alerts(include_inactive=every),
        lambda registry: current_alerts(registry, include_inactive=every),
    )
    if as_json:
        render.emit_json(alerts)
        return
    if not alerts:
        render.message("no alert is pending or firing")
        return
    render.table(
        None,
        ["state", "severity", "rule", "model", "figure", "value", "condition", "since"],
        [
            (
                alert["state"],
                alert["severity"],
                alert["rule"],
                f"{alert['model']}/{alert['version']}",
                alert.get("figure", "") + (f"[{alert['column']}]" if alert["column"] else ""),
                _number(alert["value"]),
                alert.get("condition", ""),
                (alert["since"] or "")[:19],
            )
            for alert in alerts
        ],
    )


@alerts_app.command("history")
def alerts_history(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    last: Annotated[int, typer.Option("--last", "-n", help="How many events, newest first.", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Transitions and notifications, newest first, with every delivery and action."""
    from shipyard.alerts import alert_history

    events = server_or_workspace(
        lambda server: server.alert_history(rule=rule, model=model, last=last),
        lambda registry: alert_history(registry, rule=rule, model=model, last=last),
    )
    if as_json:
        render.emit_json(events)
        return
    render.table(
        None,
        ["at", "event", "rule", "model", "value", "deliveries", "actions"],
        [
            (
                event["at"][:19],
                event["kind"] + (" (silenced)" if event["silenced_by"] else ""),
                event["rule"],
                f"{event['model']}/{event['version']}" + (f" [{event['column']}]" if event["column"] else ""),
                _number(event["value"]),
                ", ".join(
                    f"{d['channel']} {'ok' if d['delivered'] else 'FAILED: ' + d['error']}"
                    for d in event["deliveries"]
                )
                or "—",
                "; ".join(f"{a['action']} {a['status']}: {a['detail']}" for a in event["actions"]) or "—",
            )
            for event in events
        ],
    )


@alerts_app.command("evaluate")
def alerts_evaluate(
    served: ServedOption = None,
    window: WindowOption = None,
    at: Annotated[str | None, typer.Option("--at", help="Evaluate as at this time (default now).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate every rule once now, as the monitoring runner does after each run; notify and act."""
    from shipyard.alerts import AlertEvaluator

    moment = parse_time(at) if at else datetime.now(UTC)
    with open_registry(changes=True) as registry:
        config = _load_with(registry, served, window)
        outcomes = AlertEvaluator(registry, config).evaluate(moment)
    if as_json:
        render.emit_json([outcome.to_dict() for outcome in outcomes])
        return
    if not outcomes:
        render.message("{} rule(s) evaluated: nothing changed", len(config.rules))
        return
    render.table(
        None,
        ["rule", "model", "change", "value", "notified", "actions"],
        [
            (
                o.rule,
                f"{o.model}/{o.version}" + (f" [{o.column}]" if o.column else ""),
                f"{o.before} → {o.after}" if o.before != o.after else o.event or o.after,
                _number(o.value),
                ", ".join(f"{d.channel} {'ok' if d.delivered else 'FAILED'}" for d in o.deliveries) or "—",
                "; ".join(f"{a.action} {a.status}: {a.detail}" for a in o.actions) or "—",
            )
            for o in outcomes
        ],
    )


@alerts_app.command("silence")
def alerts_silence(
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d…")],
    rule: Annotated[str | None, typer.Option("--rule", help="Alerts of this rule.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Alerts of this model.")] = None,
    version: Annotated[int | None, typer.Option("--version", help="Of this version.")] = None,
    column: Annotated[str | None, typer.Option("--column", help="Of this column.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Of this severity.")] = None,
    labels: Annotated[
        list[str] | None, typer.Option("--label", help="key=value a rule's labels must hold (repeatable).")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Hold back the notifications and actions of matching alerts for a while (states still move)."""
    from shipyard.alerts import silence
    from shipyard.durations import parse_duration

    matchers: dict[str, Any] = {
        key: value
        for key, value in (
            ("rule", rule), ("model", model), ("version", version), ("column", column), ("severity", severity)
        )
        if value is not None
    }  # fmt: skip
    if labels:
        matchers["labels"] = dict(_label(text) for text in labels)
    now, length = datetime.now(UTC), parse_duration(duration, what="--for")
    server = remote_operations(changes=True)
    if server is not None:
        with server:
            created = server.silence(matchers, duration, comment=comment)
        silence_id, ends_at = created["id"], created["ends_at"]
    else:
        with open_registry(changes=True) as registry:
            row = silence(registry, matchers, now, now + length, comment=comment)
        silence_id, ends_at = row.id, row.ends_at.isoformat()
    if as_json:
        render.emit_json({"id": silence_id, "matchers": matchers, "ends_at": ends_at, "comment": comment})
        return
    render.message("silence {} holds back {} until {}", silence_id, matchers, ends_at[:19])


@alerts_app.command("silences")
def alerts_silences(
    every: Annotated[bool, typer.Option("--all", help="Also silences that ended.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The silences in force (with --all, also those that ended)."""
    from shipyard.alerts import silences

    found = server_or_workspace(
        lambda server: server.silences(include_ended=every),
        lambda registry: silences(registry, include_ended=every),
    )
    if as_json:
        render.emit_json(found)
        return
    render.table(
        None,
        ["id", "matches", "until", "by", "comment"],
        [(s["id"], s["matchers"], s["ends_at"][:19], s["created_by"], s["comment"]) for s in found],
    )


@alerts_app.command("unsilence")
def alerts_unsilence(silence_id: Annotated[int, typer.Argument(help="The silence's id.")]) -> None:
    """End a silence now."""
    from shipyard.alerts import unsilence

    server_or_workspace(
        lambda server: server.unsilence(silence_id),
        lambda registry: unsilence(registry, silence_id),
        changes=True,
    )
    render.message("silence {} ended", silence_id)


@alerts_app.command("test")
def alerts_test(
    channels: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="Only this channel (repeatable).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a test notification through the channels; fails (exit 1) when one could not be reached."""
    from shipyard.alerts import send_test

    with open_registry() as registry:
        config = _load_with(registry, None, None)
        deliveries = send_test(registry, config, channels)
    if as_json:
        render.emit_json([delivery.__dict__ for delivery in deliveries])
    else:
        render.table(
            None,
            ["channel", "delivered", "attempts", "seconds", "error"],
            [(d.channel, d.delivered, d.attempts, f"{d.seconds:.2f}", d.error) for d in deliveries],
        )
    if not all(delivery.delivered for delivery in deliveries):
        raise typer.Exit(1)


def _load(served: list[str] | None, window: str | None) -> Any:
    with open_registry() as registry:
        return _load_with(registry, served, window)


def _load_with(registry: Any, served: list[str] | None, window: str | None) -> Any:
    from shipyard.alerts import load_alerts_as_served
    from shipyard.monitoring.series import parse_window

    return load_alerts_as_served(registry, list(served or []), parse_window(window) if window else None)


def _action(text: str) -> dict[str, str]:
    kind, _, argument = text.partition(":")
    if kind == "rollback":
        return {"type": "rollback", **({"alias": argument} if argument else {})}
    if kind == "retrain":
        return {"type": "retrain", **({"spec": argument} if argument else {})}
    raise InvalidInput(f"an action is rollback, rollback:ALIAS, retrain or retrain:SPEC, got {text!r}")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"a label is key=value, got {text!r}")
    return key.strip(), value.strip()


def _number(value: object) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
