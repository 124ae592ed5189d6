"""The registry's commands: ``models``, ``register``, ``alias``, ``rollback`` and ``audit``.

Each parses its arguments, calls one ``Registry`` method, and prints; the rules live in the registry. With
``SHIPYARD_URL`` set, all but ``models describe|export`` and ``alias delete`` call the same method of the
server's registry (``RemoteRegistry``) and print its answer alike.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, ReasonOption, open_registry, open_registry_or_remote, remote
from shipyard.errors import InvalidInput
from shipyard.refs import ModelRef

if TYPE_CHECKING:  # the registry loads SQLAlchemy: imported when a command runs, not for ``shipyard --help``
    from shipyard.client import RemoteRegistry
    from shipyard.registry import AliasChange, ModelVersion, Registry

models_app = typer.Typer(help="List and inspect registered models and versions.", no_args_is_help=True)
alias_app = typer.Typer(help="Point aliases (production, staging, …) at versions.", no_args_is_help=True)


# -- models ------------------------------------------------------------------------------------------------
@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List registered models with their latest version and aliases."""
    with open_registry_or_remote() as registry:
        models = registry.list_models()
    if as_json:
        render.emit_json([model.to_dict() for model in models])
        return
    if not models:
        render.message("no models registered yet; register one with 'shipyard register NAME FILE'")
        return
    rows = [
        (m.name, m.latest_version, {a: f"v{v}" for a, v in m.aliases.items()}, m.updated_at, m.description)
        for m in models
    ]
    render.table(None, ["model", "latest", "aliases", "updated (UTC)", "description"], rows)


@models_app.command("show")
def models_show(
    reference: Annotated[str, typer.Argument(help="A model name, or a version: fraud/3, fraud@production.")],
    card: Annotated[bool, typer.Option("--card", help="Print the version's model card (Markdown).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show a model and its versions, or one version in detail."""
    parsed = ModelRef.parse(reference)
    with open_registry_or_remote() as registry:
        if parsed.version is None and parsed.alias is None and not card:
            model = registry.get_model(parsed.model)
            versions = registry.list_versions(parsed.model)
            if as_json:
                render.emit_json({**model.to_dict(), "versions": [v.to_dict() for v in versions]})
                return
            render.pairs(
                f"model {model.name}",
                [("description", model.description), ("tags", model.tags), ("created", model.created_at)],
            )
            render.table(
                "versions",
                ["version", "aliases", "format", "task", "metrics", "registered (UTC)", "by"],
                [
                    (v.version, v.aliases, v.flavor, v.info.task, v.metrics, v.created_at, v.created_by)
                    for v in versions
                ],
            )
            return
        version = registry.resolve(parsed)
        runs = _gate_runs(registry, version.ref)
    if card:
        from shipyard.registry import render_model_card

        text = render_model_card(version)
        if as_json:
            render.emit_json({"ref": version.ref, "card": text})
        else:  # the Markdown itself, unstyled and unwrapped: ready for `> MODEL_CARD.md`
            sys.stdout.write(text)
        return
    if as_json:
        render.emit_json({**version.to_dict(), "gate_runs": runs})
        return
    _print_version(version)
    if runs:
        render.table(
            "gate runs",
            ["when (UTC)", "to", "champion", "passed", "promoted", "by", "failed checks"],
            [
                (
                    run["at"][:19].replace("T", " "),
                    run["alias"],
                    f"v{run['champion']}" if run["champion"] else None,
                    "yes" if run["passed"] else "no",
                    ("forced" if run["forced"] else "yes") if run["promoted"] else "no",
                    run["actor"],
                    [r["check"] for r in run["report"]["results"] if r["status"] == "fail"],
                )
                for run in runs
            ],
        )


@models_app.command("describe")
def models_describe(
    name: Annotated[str, typer.Argument(help="The model (not a version): fraud.")],
    text: Annotated[
        str | None, typer.Argument(help="The model's description (Markdown).", show_default=False)
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the description from a Markdown file.")
    ] = None,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Set the model's own description (what 'models list' shows); each version keeps its own."""
    if (text is None) == (from_file is None):
        raise InvalidInput("give the description as TEXT or with --file FILE (one of them)")
    if from_file is not None:
        if not from_file.is_file():
            raise InvalidInput(f"description file {str(from_file)!r} does not exist")
        text = from_file.read_text(encoding="utf-8")
    parsed = ModelRef.parse(name)
    if parsed.version is not None or parsed.alias is not None:
        raise InvalidInput(
            f"'models describe' describes a model, not a version: use {parsed.model!r}; a version's "
            "description is given when it is registered (--description or --card)"
        )
    with open_registry(changes=True) as registry:
        model = registry.update_model(parsed.model, description=text or "", reason=reason)
    if as_json:
        render.emit_json(model.to_dict())
        return
    render.message("{}: description set ({} characters)", model.name, len(model.description))


@models_app.command("export")
def models_export(
    reference: Annotated[str, typer.Argument(help="The version to export: fraud/3, fraud@production.")],
    destination: Annotated[Path, typer.Argument(help="File to write the model to.")],
) -> None:
    """Write a version's model file (hash-verified) to DESTINATION."""
    with open_registry() as registry:
        version = registry.resolve(reference)
        written = registry.export(version.ref, destination)
    render.message(
        "wrote {} ({} format, {} bytes) to {}", version.ref, version.flavor, version.artifact_size, written
    )


def _gate_runs(registry: Registry | RemoteRegistry, ref: str) -> list[dict[str, Any]]:
    from shipyard.registry import Registry

    if not isinstance(registry, Registry):
        return registry.gate_runs(ref)
    from shipyard.gates import gate_runs  # gates load scikit-learn's metrics: only when needed

    return gate_runs(registry, ref)


def _print_version(version: ModelVersion) -> None:
    lineage = version.lineage
    code = lineage.get("code") or {}
    commit = code.get("commit")
    code_text = (
        f"{commit[:12]}{' (dirty)' if code.get('dirty') else ''}" if commit else "not in a git checkout"
    )
    render.pairs(
        f"{version.ref}",
        [
            ("aliases", version.aliases),
            ("format", version.flavor),
            ("task", version.info.task),
            ("classes", version.info.classes),
            ("features", version.info.feature_names or version.info.n_features),
            ("artifact", f"sha256:{version.artifact_sha256} ({version.artifact_size:,} bytes)"),
            ("metrics", version.metrics),
            ("params", version.params),
            ("tags", version.tags),
            ("input schema", "recorded" if version.input_schema else None),
            ("code", code_text),
            ("datasets", lineage.get("datasets")),
            ("seed", lineage.get("seed")),
            ("python", lineage.get("python")),
            ("registered", f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC by {version.created_by}"),
            ("description", version.description),
        ],
    )


# -- registration ------------------------------------------------------------------------------------------
def _key_values(items: list[str], kind: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{kind} {item!r} must look like key=value")
        parsed[key] = value
    return parsed


def _numbers(items: list[str]) -> dict[str, float]:
    numbers: dict[str, float] = {}
    for key, value in _key_values(items, "metric").items():
        try:
            numbers[key] = float(value)
        except ValueError:
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}") from None
    return numbers


def _json_values(items: list[str]) -> dict[str, Any]:
    """Params keep JSON types when they parse as JSON (3 → int, true → bool), else stay strings."""
    values: dict[str, Any] = {}
    for key, value in _key_values(items, "param").items():
        try:
            values[key] = json.loads(value)
        except ValueError:
            values[key] = value
    return values


def _card_text(description: str, card_file: Path | None) -> str:
    if card_file is None:
        return description
    if not card_file.is_file():
        raise InvalidInput(f"model card file {str(card_file)!r} does not exist")
    return card_file.read_text(encoding="utf-8")


def register_command(
    name: Annotated[str, typer.Argument(help="Model name; created on first registration.")],
    model_file: Annotated[
        Path, typer.Argument(help="A saved model file (format detected).", show_default=False)
    ],
    flavor: Annotated[
        str | None, typer.Option("--format", help="Force the format instead of detecting it.")
    ] = None,
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="name=value, repeatable.")] = [],  # noqa: B006
    param: Annotated[list[str], typer.Option("--param", "-p", help="name=value, repeatable.")] = [],  # noqa: B006
    tag: Annotated[list[str], typer.Option("--tag", "-t", help="key=value, repeatable.")] = [],  # noqa: B006
    dataset: Annotated[
        list[str], typer.Option("--dataset", help="role=sha256 of a dataset the model saw, repeatable.")
    ] = [],  # noqa: B006
    description: Annotated[
        str,
        typer.Option(
            "--description",
            "-d",
            help="This version's description (Markdown), the top of its model card. The model's own "
            "description: 'shipyard models describe'.",
        ),
    ] = "",
    card_file: Annotated[
        Path | None, typer.Option("--card", help="Read the model card from a Markdown file.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed used in training.")] = None,
    contract_file: Annotated[
        Path | None, typer.Option("--contract", help="Data contract (YAML/JSON) the model's input must meet.")
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="Training data (CSV/Parquet, or a sample) to profile for drift monitoring; the contract "
            "is inferred from it unless --contract is given.",
        ),
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow formats that can run code on load (pickle-based 'python').")
    ] = False,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Register a saved model file as the next version of NAME."""
    from shipyard.datasets import read_contract
    from shipyard.registry import VersionMetadata

    text = _card_text(description, card_file)
    metadata = VersionMetadata(
        metrics=_numbers(metric),
        params=_json_values(param),
        tags=_key_values(tag, "tag"),
        input_schema=read_contract(contract_file).to_dict() if contract_file is not None else None,
        datasets=_key_values(dataset, "dataset"),
        seed=seed,
    )
    server = remote(changes=True)
    if server is not None:
        if trust:
            raise InvalidInput(
                "--trust allows a format that can run code on load; a server never loads one, so register "
                "it in the workspace itself (unset SHIPYARD_URL there) or save it as sklearn/onnx/…"
            )
        with server:
            version = server.register(
                name, path=model_file, flavor=flavor, description=text, metadata=metadata,
                reference=reference, reason=reason,
            )  # fmt: skip
    else:
        with open_registry(changes=True) as registry:
            version = registry.register(
                name, path=model_file, flavor=flavor, description=text, metadata=metadata,
                reference=reference, trust=trust, reason=reason,
            )  # fmt: skip
    if as_json:
        render.emit_json(version.to_dict())
        return
    _report_registered(version)


def _report_registered(version: ModelVersion) -> None:
    """What was registered, and whether its drift will be monitored (it needs a reference profile)."""
    render.message(
        "registered [bold]{}[/] ({}, {}, sha256 {}…)",
        version.ref,
        version.flavor,
        version.info.task,
        version.artifact_sha256[:12],
    )
    if version.profile is not None:
        render.message(
            "  with its data contract and a reference profile of {} rows: drift is monitored",
            f"{version.profile.get('rows', 0):,}",
        )
        return
    render.message(
        "  [yellow]note:[/] no reference profile, so drift is not monitored; add one with "
        "'shipyard profile build {} TRAINING_DATA' (or register with --reference)",
        version.ref,
    )


# -- aliases -----------------------------------------------------------------------------------------------
def _alias_ref(reference: str) -> tuple[str, str]:
    parsed = ModelRef.parse(reference)
    if parsed.alias is None:
        raise InvalidInput(f"expected an alias reference such as 'fraud@production', got {reference!r}")
    return parsed.model, parsed.alias


def _report_change(change: AliasChange, as_json: bool) -> None:
    if as_json:
        render.emit_json(change.to_dict())
        return
    target = f"{change.model}@{change.alias}"
    before = f"v{change.previous_version}" if change.previous_version is not None else "(unset)"
    after = f"v{change.version}" if change.version is not None else "(deleted)"
    if change.action == "unchanged":
        render.message("{} already points at {}; nothing changed", target, after)
    else:
        render.message("{}: {} → {}", target, before, after)


@alias_app.command("set")
def alias_set(
    reference: Annotated[str, typer.Argument(help="name@alias, e.g. fraud@production.")],
    version: Annotated[int, typer.Argument(help="Version number to point the alias at.", min=1)],
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Create or move an alias."""
    name, alias = _alias_ref(reference)
    with open_registry_or_remote(changes=True) as registry:
        change = registry.set_alias(name, alias, version, reason=reason)
    _report_change(change, as_json)


@alias_app.command("delete")
def alias_delete(
    reference: Annotated[str, typer.Argument(help="name@alias.")],
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Delete an alias (a rollback restores it)."""
    name, alias = _alias_ref(reference)
    with open_registry_or_remote(changes=True) as registry:
        change = registry.delete_alias(name, alias, reason=reason)
    _report_change(change, as_json)


@alias_app.command("history")
def alias_history(
    reference: Annotated[str, typer.Argument(help="A model name, or name@alias for one alias.")],
    as_json: JsonFlag = False,
) -> None:
    """Show every move of a model's aliases, oldest first."""
    parsed = ModelRef.parse(reference)
    with open_registry_or_remote() as registry:
        changes = registry.alias_history(parsed.model, parsed.alias)
    if as_json:
        render.emit_json([change.to_dict() for change in changes])
        return
    render.table(
        None,
        ["when (UTC)", "alias", "action", "from", "to", "by", "reason"],
        [(c.at, c.alias, c.action, c.previous_version, c.version, c.actor, c.reason) for c in changes],
    )


def rollback_command(
    reference: Annotated[str, typer.Argument(help="name@alias, e.g. fraud@production.")],
    to: Annotated[int | None, typer.Option("--to", help="Roll back to this version instead.", min=1)] = None,
    reason: ReasonOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Move an alias back to the version it pointed at before its last move."""
    with open_registry_or_remote(changes=True) as registry:
        change = registry.rollback(reference, to=to, reason=reason)
    _report_change(change, as_json)


# -- audit -------------------------------------------------------------------------------------------------
def audit_command(
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only actions starting with this, e.g. alias.")
    ] = None,
    since: Annotated[datetime | None, typer.Option("--since", help="Only events at or after (UTC).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many of the newest events.", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit trail: who changed what, when, from what to what, and why."""
    when = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    with open_registry_or_remote() as registry:
        events = registry.audit(model=model, action=action, since=when, limit=limit)
    if as_json:
        render.emit_json([event.to_dict() for event in events])
        return
    render.audit_table(None, events)
