"""Reference data: the rows a version's monitoring compares production with, summarised as its profile.

``shipyard train`` profiles its training rows itself. A model trained elsewhere and registered from a file
gets its reference here, from a table the user names (the training data, or a sample of it): the rows are
checked against the version's data contract (or the contract is inferred from them), profiled column by
column, and the model's own predictions on them are profiled too (``_prediction``, and ``_score`` for a
binary classifier), so the monitors can compare both the inputs and the outputs of each window.
Only the profile is kept, never the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.contracts import Contract
from shipyard.datasets import read_table
from shipyard.datasets.reading import as_frame, detect_format
from shipyard.errors import InvalidInput
from shipyard.flavors.base import LoadedModel, ModelDescription
from shipyard.predictions.records import PREDICTION_COLUMN, SCORE_COLUMN
from shipyard.stats import Profile, ProfileLayout

#: Contract types profiled as categories; every other type is profiled as numbers.
_CATEGORICAL_TYPES = {"category", "string", "boolean"}
_SHOWN_PROBLEMS = 5

#: What ``reference=`` accepts: a CSV or Parquet path, a DataFrame or a pyarrow Table.
ReferenceData: TypeAlias = str | Path | pd.DataFrame | pa.Table


@dataclass(frozen=True)
class ReferenceTable:
    """The reference rows as read, and whether they came from text (CSV) for the contract to parse."""

    frame: pd.DataFrame
    text_input: bool
    name: str


@dataclass(frozen=True)
class Reference:
    """A version's contract and the reference profile built from the reference rows."""

    contract: Contract
    profile: Profile


def read_reference(data: ReferenceData) -> ReferenceTable:
    """The reference rows of a CSV or Parquet file, a DataFrame or a pyarrow Table; read once."""
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise InvalidInput(f"reference data file {str(path)!r} does not exist or is not a regular file")
        table_format = detect_format(path)
        frame = read_table(path, table_format)
        table = ReferenceTable(frame, table_format == "csv", path.name)
    else:
        table = ReferenceTable(as_frame(data), False, f"<{type(data).__name__}>")
    if table.frame.empty:
        raise InvalidInput(f"the reference data {table.name} has no rows; there is nothing to profile")
    return table


def build_reference(
    table: ReferenceTable,
    model: LoadedModel,
    info: ModelDescription,
    contract: Contract | None = None,
    *,
    owner: str = "the model",
) -> Reference:
    """The contract (``contract``, or one inferred from the rows) and the profile of the reference rows.

    With a contract, every row must meet it: a reference that breaks its own contract would make every
    monitor compare production with data the server refuses. Without one, the model's features (all the
    columns when the model does not name its features) are the contract's columns.
    """
    if contract is None:
        contract = Contract.infer(_feature_columns(table, info, owner))
    valid = _valid_rows(table, contract, owner)
    return Reference(contract, _profile(valid, contract, model, info))


def _feature_columns(table: ReferenceTable, info: ModelDescription, owner: str) -> pd.DataFrame:
    names = list(info.feature_names or [])
    if not names:
        return table.frame
    missing = [name for name in names if name not in table.frame.columns]
    if missing:
        shown = ", ".join(repr(name) for name in missing[:_SHOWN_PROBLEMS])
        more = f" and {len(missing) - _SHOWN_PROBLEMS} more" if len(missing) > _SHOWN_PROBLEMS else ""
        raise InvalidInput(
            f"the reference data {table.name} lacks {len(missing)} of {owner}'s features: {shown}{more}; "
            "give the data the model was trained on"
        )
    return table.frame[names]


def _valid_rows(table: ReferenceTable, contract: Contract, owner: str) -> pd.DataFrame:
    """The rows coerced to the contract's types; InvalidInput naming the first problems otherwise."""
    present = [name for name in contract.names if name in table.frame.columns]
    result = contract.validate(table.frame[present], mode="split", text_input=table.text_input)
    if result.ok:
        return result.valid[contract.names]
    rows = len(table.frame) - len(result.valid)
    shown = "; ".join(
        (f"row {row}, " if row >= 0 else "") + f"{column}: {problem}" + (f" ({value})" if value else "")
        for row, column, problem, value in result.problems.head(_SHOWN_PROBLEMS).itertuples(index=False)
    )
    raise InvalidInput(
        f"the reference data {table.name} breaks {owner}'s data contract in {rows:,} of "
        f"{len(table.frame):,} row(s) ({shown}); "
        "fix the data or the contract: the reference must be data the model accepts"
    )


def _profile(valid: pd.DataFrame, contract: Contract, model: LoadedModel, info: ModelDescription) -> Profile:
    """The features' profile, with the model's predictions on them (and a binary classifier's score)."""
    frame = valid.reset_index(drop=True).copy()
    kinds: dict[str, Literal["numeric", "categorical"]] = {
        column.name: "categorical" if column.type in _CATEGORICAL_TYPES else "numeric"
        for column in contract.columns
    }
    output_kind: Literal["numeric", "categorical"] = (
        "categorical" if info.task == "classification" else "numeric"
    )
    features = valid.reset_index(drop=True)
    try:
        predictions, probabilities = _predict(model, info, features)
    except Exception as error:
        raise InvalidInput(
            f"the model could not predict on the reference data ({type(error).__name__}: {error}"[:300]
            + "); give the data in the columns and types it was trained on"
        ) from None
    frame[PREDICTION_COLUMN] = predictions
    kinds[PREDICTION_COLUMN] = output_kind
    if probabilities is not None and probabilities.ndim == 2 and probabilities.shape[1] == 2:
        frame[SCORE_COLUMN] = probabilities[:, 1]
        kinds[SCORE_COLUMN] = "numeric"
    return Profile.build(frame, ProfileLayout.infer(frame, kinds=kinds))


def _predict(
    model: LoadedModel, info: ModelDescription, rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None]:
    if info.task == "classification" and model.has_proba:
        predictions, probabilities = model.predict_with_proba(rows)
        return np.asarray(predictions), None if probabilities is None else np.asarray(probabilities)
    return np.asarray(model.predict(rows)), None
