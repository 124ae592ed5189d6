"""``shipyard contract``: show, export and check a model version's data contract."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry
from shipyard.cli.data import contract_table
from shipyard.errors import NotFound

if TYPE_CHECKING:  # pandas and pyarrow: loaded by the command that runs, not by ``shipyard --help``
    from shipyard.contracts import Contract
    from shipyard.registry import ModelVersion

contract_app = typer.Typer(help="The data contract a model version's input must meet.", no_args_is_help=True)


def _contract_of(version: ModelVersion) -> Contract:
    from shipyard.contracts import Contract

    if version.input_schema is None:
        raise NotFound(
            f"{version.ref} has no data contract; train it with 'shipyard train' "
            "or register it with --contract"
        )
    return Contract.from_dict(version.input_schema)


@contract_app.command("show")
def contract_show(
    reference: Annotated[str, typer.Argument(help="A model version: fraud/3, fraud@production.")],
    as_json: JsonFlag = False,
) -> None:
    """Show the contract's columns: type, nullability, ranges, categories."""
    with open_registry() as registry:
        version = registry.resolve(reference)
    contract = _contract_of(version)
    if as_json:
        render.emit_json(contract.to_dict())
        return
    contract_table(contract, title=f"contract of {version.ref}")


@contract_app.command("export")
def contract_export(
    reference: Annotated[str, typer.Argument(help="A model version: fraud/3, fraud@production.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    format: Annotated[Literal["yaml", "json"], typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Export the contract as YAML or JSON, to edit it and use it with --contract or data.contract."""
    with open_registry() as registry:
        version = registry.resolve(reference)
    contract = _contract_of(version)
    text = contract.to_yaml() if format == "yaml" else contract.to_json()
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text, encoding="utf-8")
    render.message("wrote the contract of {} to {}", version.ref, output)


@contract_app.command("validate")
def contract_validate(
    reference: Annotated[str, typer.Argument(help="The model version whose contract applies.")],
    data_file: Annotated[Path, typer.Argument(help="A .csv or .parquet file to check.")],
    contract_file: Annotated[
        Path | None, typer.Option("--contract", help="Check against this YAML/JSON contract instead.")
    ] = None,
    rejected_file: Annotated[
        Path | None,
        typer.Option("--rejected", help="Write the rejected rows with their reasons to this CSV."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many problems to list.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Check a file against the contract; exit code 1 when any row breaks it."""
    from shipyard.datasets import read_contract, read_table
    from shipyard.datasets.reading import detect_format

    if contract_file is not None:
        contract = read_contract(contract_file)
    else:
        with open_registry() as registry:
            contract = _contract_of(registry.resolve(reference))
    table_format = detect_format(data_file)
    if not data_file.is_file():
        raise NotFound(f"data file {str(data_file)!r} does not exist")
    frame = read_table(data_file, table_format)
    result = contract.validate(frame, mode="split", text_input=table_format == "csv")
    if rejected_file is not None and len(result.rejected):
        result.rejected.to_csv(rejected_file, index=False)
    problems = result.problem_list(limit)
    if as_json:
        render.emit_json(
            {
                "rows": result.rows,
                "valid_rows": len(result.valid),
                "rejected_rows": len(result.rejected),
                "problems": [asdict(problem) for problem in problems],
            }
        )
    elif result.ok:
        render.message("all {} rows meet the contract", f"{result.rows:,}")
    else:
        render.message("{}", result.summary(limit=3))
        render.table(
            None,
            ["row", "column", "problem", "value"],
            [(problem.row, problem.column, problem.problem, problem.value) for problem in problems],
        )
    if not result.ok:
        raise typer.Exit(1)
