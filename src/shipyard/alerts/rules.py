"""Alert rules, channels and actions, declared in TOML or added through the CLI / API (kept in the database),
and checked against what exists when loaded.

In the workspace's ``shipyard.toml`` (or the file the ``alerts_file`` setting names)::

    [alerts]
    default_channels = ["ops"]        # where rules without channels = [...] notify (default: the log)
    repeat = "4h"                     # a firing alert notifies again this often

    [alerts.defaults]                 # the rules every served model gets; enabled = false turns them off
    error_rate = 0.05
    latency_p99_ms = 500
    accuracy_drop = 0.10              # relative to the mean of the last 24 h

    [[alerts.rules]]
    name = "amount-drift"
    model = "fraud@production"        # fraud@alias, fraud/3, fraud (every version) or "*"
    figure = "drift.psi"              # any monitored figure: shipyard alerts figures
    column = "amount"                 # for a figure of a column; "*" for each column
    window = "1h"                     # which monitoring windows to read
    above = 0.2                       # or below = …, or outside = [low, high]
    relative_to = "24h"               # optional: compare the change relative to this period's mean
    for = "10m"                       # how long it must hold before firing
    severity = "warning"              # info, warning or critical
    labels = { team = "risk" }
    channels = ["ops", "email"]
    actions = [{ type = "rollback" }, { type = "retrain" }]   # retrain: runs [retraining.<model>]
    cooldown = "1h"                   # one action per rule and model at most this often

    [alerts.channels.ops]
    type = "webhook"                  # webhook, slack, email or log
    url = "https://hooks.example.com/shipyard"
    secret_env = "SHIPYARD_WEBHOOK_SECRET"   # signs the body (HMAC-SHA256)
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.alerts.retrain_policies import declared_policies, retrain_fixes
from shipyard.config import CONFIG_FILE, Settings
from shipyard.durations import duration_label, parse_duration
from shipyard.errors import ConfigurationError, Conflict, NotFound, ShipyardError, not_found
from shipyard.monitoring.figures import RETIRED, catalogue
from shipyard.predictions.names import OUTPUT_COLUMNS
from shipyard.refs import ModelRef
from shipyard.registry import ModelVersion, Registry
from shipyard.store.alert_rules import AlertRuleRepository
from shipyard.store.alerts import AlertRecord, AlertRepository

Severity = Literal["info", "warning", "critical"]
LOG_CHANNEL = "log"
ADDED_SOURCE = "added"
FIGURES_COMMAND = "shipyard alerts figures"
DEFAULTS_SOURCE = "defaults"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ActionConfig(_Strict):
    type: Literal["rollback", "retrain"]
    #: rollback: the alias to move back (default: the alias the rule's model selector names).
    alias: str | None = None
    #: retrain without a ``[retraining.<model>]`` policy: the training spec to run (``shipyard train SPEC``,
    #: relative to the workspace), whose result is only registered. With a policy, the policy runs instead.
    spec: str | None = None


class RuleConfig(_Strict):
    name: str = Field(min_length=1)
    figure: str
    column: str = ""
    model: str = "*"
    window: str = "1h"
    above: float | None = None
    below: float | None = None
    outside: tuple[float, float] | None = None
    relative_to: str | None = None
    for_: str = Field("0s", alias="for")
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    channels: list[str] | None = None
    actions: list[ActionConfig] = Field(default_factory=list)
    cooldown: str = "1h"
    repeat: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_condition(self) -> RuleConfig:
        given = [name for name in ("above", "below", "outside") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a rule has one condition: above = x, below = x or outside = [low, high]")
        if self.outside is not None and self.outside[0] > self.outside[1]:
            raise ValueError(f"outside = [low, high] needs low <= high, got {list(self.outside)}")
        return self


class DefaultsConfig(_Strict):
    enabled: bool = True
    error_rate: float = Field(0.05, gt=0, le=1)
    latency_p99_ms: float = Field(500.0, gt=0)
    accuracy_drop: float = Field(0.10, gt=0, lt=1)
    #: Which monitoring windows the default rules read (default: the server's --monitor-window).
    window: str | None = None


class ChannelConfig(_Strict):
    # A channel holds secrets (a webhook URL's path, a signing secret): errors never repeat the input.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    type: Literal["webhook", "slack", "email", "log"]
    url: str | None = None
    secret: str | None = None
    secret_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(5.0, gt=0, le=60)
    attempts: int = Field(4, ge=1, le=10)
    backoff: float = Field(0.5, ge=0, le=60)
    # email
    host: str | None = None
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str | None = Field(None, alias="from")
    to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.type} channel needs url = 'https://…'")
        problem = webhook_url_problem(self.url) if self.type in ("webhook", "slack") and self.url else ""
        if problem:
            raise ValueError(f"the {self.type} channel's url {problem}")
        if self.type == "email" and not (self.host and self.to and self.sender):
            raise ValueError("an email channel needs host, from and to = ['someone@example.com']")
        return self

    def signing_secret(self) -> bytes | None:
        if self.secret:
            return self.secret.encode()
        if self.secret_env:
            value = os.environ.get(self.secret_env)
            if not value:
                raise ConfigurationError(f"the webhook secret variable ${self.secret_env} is not set")
            return value.encode()
        return None

    def password(self) -> str | None:
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigurationError(f"the SMTP password variable ${self.password_env} is not set")
        return value


#: The schemes a webhook may use: anything else (file:, ftp:, …) would make the sender read or reach what it
#: should not, since the standard library's opener follows every scheme it knows.
WEBHOOK_SCHEMES = ("http", "https")


def webhook_url_problem(url: str) -> str:
    """What is wrong with ``url`` as a webhook address ("" if nothing is), without repeating it: a Slack or
    Teams webhook URL holds its secret in the path."""
    if any(character.isspace() or not character.isprintable() for character in url):
        return "contains spaces or control characters; percent-encode them"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        shown = f"scheme {parts.scheme[:20]!r}" if parts.scheme else "no scheme"
        return f"has {shown}; it must start with http:// or https://"
    if not parts.hostname:
        return f"has no host; write it as {parts.scheme.lower()}://host[:port]/path"
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return f"has an invalid port after host {parts.hostname[:100]!r}; use a number from 1 to 65535"
    return ""


class AlertsDocument(_Strict):
    default_channels: list[str] = Field(default_factory=lambda: [LOG_CHANNEL])
    repeat: str = "4h"
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    rules: list[RuleConfig] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """``above``, ``below`` or ``outside`` a band, on the figure or on its change relative to a baseline."""

    kind: Literal["above", "below", "outside"]
    low: float | None
    high: float | None
    relative_to: timedelta | None = None

    def holds(self, value: float) -> bool:
        if self.kind == "above":
            return value > self.high  # type: ignore[operator]
        if self.kind == "below":
            return value < self.low  # type: ignore[operator]
        return value < self.low or value > self.high  # type: ignore[operator]

    def describe(self) -> str:
        subject = f"change vs the last {_short(self.relative_to)}" if self.relative_to else "value"
        if self.kind == "above":
            return f"{subject} > {self.high:g}"
        if self.kind == "below":
            return f"{subject} < {self.low:g}"
        return f"{subject} outside [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Rule:
    """A checked rule: durations parsed, figure and model known."""

    name: str
    figure: str
    column: str
    model: str
    window: timedelta
    condition: Condition
    for_: timedelta
    severity: str
    labels: dict[str, str]
    channels: tuple[str, ...]
    actions: tuple[ActionConfig, ...]
    cooldown: timedelta
    repeat: timedelta
    description: str = ""
    #: Where the rule comes from: the TOML file's name, ``added`` (CLI / API: the database) or ``defaults``.
    source: str = ""

    @property
    def default(self) -> bool:
        return self.source == DEFAULTS_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "figure": self.figure,
            "column": self.column,
            "model": self.model,
            "window": _short(self.window),
            "condition": self.condition.describe(),
            "for": _short(self.for_),
            "severity": self.severity,
            "labels": dict(self.labels),
            "channels": list(self.channels),
            "actions": [action.model_dump(exclude_none=True) for action in self.actions],
            "cooldown": _short(self.cooldown),
            "repeat": _short(self.repeat),
            "description": self.description,
            "source": self.source,
        }


@dataclass(frozen=True)
class AlertsConfig:
    """Every rule (declared and default), every channel, and where they came from."""

    rules: list[Rule]
    channels: dict[str, ChannelConfig]
    source: str = ""


def load_alerts(
    settings: Settings,
    registry: Registry,
    served: list[str] | None = None,
    *,
    window: timedelta = timedelta(hours=1),
    alerts_file: Path | None = None,
) -> AlertsConfig:
    """The alert configuration: the rules and channels declared in TOML, the rules added through the CLI or
    API (kept in the database), and the default rules of each ``served`` reference over ``window``-long
    monitoring windows; every figure, model, column and channel a rule names is checked now, not when it
    fires."""
    parsed, path = _read_document(settings, alerts_file)
    channels = {LOG_CHANNEL: ChannelConfig(type="log"), **parsed.channels}
    repeat = parse_duration(parsed.repeat, what="alerts.repeat", minimum=timedelta(minutes=1))

    def check(config: RuleConfig, source: str) -> Rule:
        checked = _checked(config, registry, channels, parsed.default_channels, repeat, source)
        return replace(checked, source=source)

    rules: dict[str, Rule] = {}
    for config in parsed.rules:
        if config.name in rules:
            raise ConfigurationError(f"two alert rules are named {config.name!r} in {path.name}; rename one")
        rules[config.name] = check(config, path.name)
    for name, document in AlertRuleRepository(registry.db).documents().items():
        if name in rules:
            raise ConfigurationError(
                f"alert rule {name!r} is declared in {path.name} and was also added with 'shipyard alerts "
                f"add'; remove one ('shipyard alerts remove {name}' removes the added one)"
            )
        rules[name] = check(_rule_config(document, name), ADDED_SOURCE)
    if parsed.defaults.enabled:
        for reference in served or []:
            for config in default_rules(registry, reference, parsed.defaults, window):
                if config.name not in rules:  # a rule of the same name replaces the default
                    rules[config.name] = check(config, DEFAULTS_SOURCE)
    return AlertsConfig(list(rules.values()), channels, str(path) if path.is_file() else "")


def load_alerts_as_served(
    registry: Registry,
    served: list[str] | None = None,
    window: timedelta | None = None,
    *,
    alerts_file: Path | None = None,
) -> AlertsConfig:
    """The rules as a server serving ``served`` evaluates them, for an evaluation or a listing outside it
    (``shipyard alerts evaluate`` from cron, beside a running server).

    A rule's window belongs to the rule. A declared rule names its own; a default rule reads the windows of
    ``[alerts.defaults] window``, else those of the server that evaluates it (its ``--monitor-window``): here,
    the window its alerts were last evaluated with. ``window`` is used when neither is known (1 hour if not
    given either). A ``window`` that disagrees with the rule's is refused: read over other windows the rule
    would find other figures (often none), resolve the server's firing alert and have it fire again.
    """
    parsed, path = _read_document(registry.settings, alerts_file)
    config = load_alerts(
        registry.settings, registry, served, window=window or timedelta(hours=1), alerts_file=alerts_file
    )
    if parsed.defaults.window is not None:
        declared = parse_duration(parsed.defaults.window, what="[alerts.defaults] window")
        if window is not None and window != declared:
            raise Conflict(
                f"the default rules read {duration_label(declared)} windows ([alerts.defaults] window in "
                f"{path.name}), not {duration_label(window)}: leave out --window, or change it there"
            )
        return config
    evaluated = _windows_evaluated(registry)
    rules = []
    for rule in config.rules:
        known = evaluated.get(rule.name) if rule.default else None
        if known is not None and window is not None and known != window:
            raise Conflict(
                f"alert rule {rule.name!r} was last evaluated over {duration_label(known)} windows (by the "
                f"server that serves it: its --monitor-window); over {duration_label(window)} windows it "
                f"would read other figures and resolve or fire its alerts against the server's. Leave out "
                f"--window (or pass --window {duration_label(known)}), or set window = "
                f'"{duration_label(known)}" in [alerts.defaults] of {path.name} so every evaluation agrees'
            )
        rules.append(replace(rule, window=known) if known is not None else rule)
    return replace(config, rules=rules)


def _windows_evaluated(registry: Registry) -> dict[str, timedelta]:
    """The window each rule's most recently evaluated alert was evaluated with."""
    newest = {}
    for alert in sorted(AlertRepository(registry.db).current(include_inactive=True), key=_evaluated_at):
        label = alert.details.get("window")
        if isinstance(label, str) and label:
            newest[alert.rule] = parse_duration(label, what="a stored alert's window")
    return newest


def _evaluated_at(alert: AlertRecord) -> datetime:
    return alert.evaluated_at


def add_rule(
    registry: Registry,
    document: Mapping[str, Any],
    *,
    replace_existing: bool = False,
    alerts_file: Path | None = None,
) -> Rule:
    """Check a rule (written as in TOML: ``{"name": …, "figure": …, "above": …, "for": "5m"}``) and keep it
    in the database, where every server's monitoring runner finds it at its next run."""
    parsed, path = _read_document(registry.settings, alerts_file)
    name = str(document.get("name", ""))
    config = _rule_config(document, name or "(unnamed)")
    if any(declared.name == config.name for declared in parsed.rules):
        raise ConfigurationError(f"alert rule {config.name!r} is declared in {path.name}; edit it there")
    channels = {LOG_CHANNEL: ChannelConfig(type="log"), **parsed.channels}
    repeat = parse_duration(parsed.repeat, what="alerts.repeat", minimum=timedelta(minutes=1))
    rule = replace(
        _checked(config, registry, channels, parsed.default_channels, repeat, ADDED_SOURCE),
        source=ADDED_SOURCE,
    )
    stored = config.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    stored["name"] = config.name
    saved = AlertRuleRepository(registry.db).save(
        config.name, stored, actor=registry.actor, at=datetime.now(UTC), replace=replace_existing
    )
    if not saved:
        raise Conflict(f"alert rule {config.name!r} exists; pass --replace to change it")
    return rule


def remove_rule(registry: Registry, name: str) -> None:
    """Remove a rule added through the CLI or API (a rule declared in TOML is edited in its file)."""

    if not AlertRuleRepository(registry.db).remove(name):
        raise NotFound(
            f"no added alert rule is named {name!r}; 'shipyard alerts rules' lists them "
            "(a rule from a TOML file is removed by editing the file)"
        )


def _read_document(settings: Settings, alerts_file: Path | None) -> tuple[AlertsDocument, Path]:
    declared = Path(settings.alerts_file) if settings.alerts_file else settings.home / CONFIG_FILE
    path = alerts_file or declared
    document: dict[str, Any] = {}
    if path.is_file():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8")).get("alerts", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path.name} is not valid TOML: {exc}") from None
    elif alerts_file is not None or settings.alerts_file:
        raise ConfigurationError(f"alerts file {str(path)!r} does not exist")
    try:
        return AlertsDocument.model_validate(document), path
    except ValidationError as exc:
        raise ConfigurationError(f"invalid [alerts] in {path.name}: {_problems(exc)}") from None


def _rule_config(document: Mapping[str, Any], name: str) -> RuleConfig:
    try:
        return RuleConfig.model_validate(dict(document))
    except ValidationError as exc:
        raise ConfigurationError(f"invalid alert rule {name!r}: {_problems(exc)}") from None


def default_rules(
    registry: Registry, reference: str, defaults: DefaultsConfig, served_window: timedelta
) -> list[RuleConfig]:
    """What every served model is watched for: errors, slow answers, dataset drift and an accuracy drop."""
    version = registry.resolve(reference)
    model = reference
    window = defaults.window or duration_label(served_window)
    rules = [
        RuleConfig(
            name=f"{version.model}:error-rate", model=model, figure="health.error_rate", window=window,
            above=defaults.error_rate, for_="5m", severity="critical",
            description=f"more than {defaults.error_rate:.0%} of requests fail (5xx)",
        ),
        RuleConfig(
            name=f"{version.model}:latency-p99", model=model, figure="health.latency_p99_ms", window=window,
            above=defaults.latency_p99_ms, for_="5m", severity="warning",
            description=f"p99 latency above {defaults.latency_p99_ms:g} ms",
        ),
        RuleConfig(
            name=f"{version.model}:dataset-drift", model=model, figure="drift.dataset", window=window,
            above=0.5, severity="warning",
            description="the share of drifted features passed the dataset threshold",
        ),
    ]  # fmt: skip
    if version.info.task == "classification":
        rules.append(
            RuleConfig(
                name=f"{version.model}:accuracy-drop", model=model, figure="accuracy.accuracy",
                window=window, below=-defaults.accuracy_drop, relative_to="24h", severity="critical",
                description=f"accuracy fell more than {defaults.accuracy_drop:.0%} below the last 24 h",
            )
        )  # fmt: skip
    elif version.info.task == "regression":
        rules.append(
            RuleConfig(
                name=f"{version.model}:accuracy-drop", model=model, figure="accuracy.rmse",
                window=window, above=defaults.accuracy_drop, relative_to="24h", severity="critical",
                description=f"rmse rose more than {defaults.accuracy_drop:.0%} above the last 24 h",
            )
        )  # fmt: skip
    return rules


def _checked(
    config: RuleConfig,
    registry: Registry,
    channels: dict[str, ChannelConfig],
    default_channels: list[str],
    repeat: timedelta,
    where: str,
) -> Rule:
    def fail(problem: str) -> ConfigurationError:
        return ConfigurationError(f"alert rule {config.name!r} ({where}): {problem}")

    figures = catalogue()
    if config.figure in RETIRED:
        raise fail(_retired(config, where))
    if config.figure not in figures:
        raise fail(_unknown_figure(config.figure, list(figures)))
    per_column = figures[config.figure]
    if per_column and not config.column:
        raise fail(f"{config.figure} is a figure of a column: add column = 'name' (or '*' for each)")
    if not per_column and config.column:
        raise fail(f"{config.figure} is a figure of the whole window: remove column = {config.column!r}")
    _check_model(config, registry, fail)
    names = tuple(config.channels if config.channels is not None else default_channels)
    unknown = [name for name in names if name not in channels]
    if unknown:
        raise fail(f"unknown channel(s) {', '.join(unknown)}; channels: {', '.join(channels)}")
    for action in config.actions:
        if action.type == "rollback" and action.alias is None and "@" not in config.model:
            raise fail("a rollback needs an alias: model = 'fraud@production', or alias = 'production'")
        if action.type == "retrain" and not action.spec:
            _check_retrain_policy(config.model, registry.settings, fail)
    try:
        window = parse_duration(config.window, what="window", minimum=timedelta(minutes=1))
        relative_to = (
            parse_duration(config.relative_to, what="relative_to", minimum=timedelta(minutes=1))
            if config.relative_to
            else None
        )
        hold = parse_duration(config.for_, what="for")
        cooldown = parse_duration(config.cooldown, what="cooldown")
        if config.repeat:
            repeat = parse_duration(config.repeat, what="repeat", minimum=timedelta(minutes=1))
    except ShipyardError as error:
        raise fail(str(error)) from None
    if config.above is not None:
        condition = Condition("above", None, config.above, relative_to)
    elif config.below is not None:
        condition = Condition("below", config.below, None, relative_to)
    else:
        low, high = config.outside  # type: ignore[misc]
        condition = Condition("outside", low, high, relative_to)
    return Rule(
        name=config.name,
        figure=config.figure,
        column=config.column,
        model=config.model,
        window=window,
        condition=condition,
        for_=hold,
        severity=config.severity,
        labels=dict(config.labels),
        channels=names,
        actions=tuple(config.actions),
        cooldown=cooldown,
        repeat=repeat,
        description=config.description,
    )


def _unknown_figure(name: str, figures: list[str]) -> str:
    """Not all the figures, but the closest: those containing what was typed (``latency``), else the
    nearest spellings (``health.p99``); the whole list only by command."""
    containing = [figure for figure in figures if name and name.lower() in figure.lower()]
    if 0 < len(containing) <= 5:
        return f"figure {name!r} not found; did you mean {', '.join(repr(f) for f in containing)}?"
    return str(not_found("figure", name, candidates=figures, list_command=FIGURES_COMMAND))


def _retired(config: RuleConfig, where: str) -> str:
    """Why a rule on a retired figure is refused, the figure its condition meant (``above``: the distance;
    ``below``: the p-value), and how to change the rule where it is kept."""
    prefix = config.figure.partition(".")[0]
    distance = f"'{prefix}.distance' (the deciding distance, high = drift; windows over 1,000 rows)"
    p_value = f"'{prefix}.p_value' (the deciding test's p-value, low = drift; windows of 1,000 rows or fewer)"
    instead = distance if config.above is not None else p_value if config.below is not None else None
    chosen = instead or f"{distance} or {p_value}"
    replacement = "p_value" if config.below is not None else "distance"
    how = (
        f"add it again with 'shipyard alerts add {config.name} --figure {prefix}.{replacement} … --replace'"
        if where == ADDED_SOURCE
        else f"edit it in {where}"
    )
    return (
        f"figure {config.figure!r} was retired: {RETIRED[config.figure]}. Use {chosen}; "
        f"or '{prefix}.drifted' above 0.5 (the column's verdict, at any window size); or one method's "
        f"score, computed in every window ('{prefix}.psi', '{prefix}.wasserstein', …). "
        f"To change the rule, {how}"
    )


def _check_model(config: RuleConfig, registry: Registry, fail: Callable[[str], ConfigurationError]) -> None:
    """The model (and alias or version) a rule selects must exist; the error lists what does."""
    if config.model == "*":
        return
    try:
        reference = ModelRef.parse(config.model)
    except ShipyardError as error:
        raise fail(str(error)) from None
    models = [model.name for model in registry.list_models()]
    if reference.model not in models:
        raise fail(f"unknown model {reference.model!r}; models: {', '.join(models) or 'none registered'}")
    try:
        version = registry.resolve(config.model)
    except ShipyardError as error:
        raise fail(str(error)) from None
    if config.column and config.column != "*":
        columns = _columns_of(version, config.figure)
        if columns and config.column not in columns:
            raise fail(f"{version.ref} has no column {config.column!r}; columns: {', '.join(columns)}")


def _check_retrain_policy(
    selector: str, settings: Settings, fail: Callable[[str], ConfigurationError]
) -> None:
    """A retrain action without a spec runs the model's retraining policy, so the model must declare one.
    A rule on every model (``*``) is checked when it fires, unless no model declares a policy at all."""
    declared = declared_policies(settings)
    if selector == "*":
        if not declared:
            fixes = retrain_fixes("<model>")
            raise fail(f"a retrain action without a spec runs the model's retraining policy: {fixes}")
        return
    model = ModelRef.parse(selector).model
    if model not in declared:
        raise fail(f"{model} has no retraining policy for its retrain action to run: {retrain_fixes(model)}")


def _columns_of(version: ModelVersion, figure: str) -> list[str]:
    if figure.startswith("output_drift."):
        return list(OUTPUT_COLUMNS)
    if version.input_schema:
        return [str(column["name"]) for column in version.input_schema.get("columns", [])]
    return list(version.info.feature_names or [])


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )


def _short(duration: timedelta | None) -> str:
    return duration_label(duration) if duration is not None else ""
