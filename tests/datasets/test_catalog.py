"""Dataset versions: stored once by content, with contract, profile and CSV typing problems reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from shipyard import IntegrityError, InvalidInput, NotFound, Registry
from tests.models import transactions


def test_adding_a_csv_records_rows_contract_and_profile(registry: Registry, tmp_path: Path) -> None:
    frame = transactions(rows=200)
    path = tmp_path / "tx.csv"
    frame.to_csv(path, index=False)
    version = registry.datasets.add("tx", path)
    assert (version.ref, version.rows, version.columns, version.format) == ("tx/1", 200, 6, "csv")
    assert version.created is True
    assert version.contract.column("channel").type == "category"
    assert version.contract.column("day").type == "datetime"
    assert version.profile.rows == 200
    loaded = registry.datasets.load("tx/1")
    assert list(loaded.columns) == list(frame.columns) and len(loaded) == 200


def test_adding_identical_data_again_returns_the_same_version(registry: Registry, tmp_path: Path) -> None:
    frame = transactions(rows=50)
    first = registry.datasets.add("tx", frame)
    again = registry.datasets.add("tx", frame.copy())
    assert again.ref == first.ref and again.created is False
    changed = registry.datasets.add("tx", frame.head(49))
    assert changed.ref == "tx/2"
    assert [v.ref for v in registry.datasets.list("tx")] == ["tx/1", "tx/2"]
    assert registry.datasets.get("tx").ref == "tx/2"


def test_pyarrow_tables_and_parquet_files_are_accepted(registry: Registry, tmp_path: Path) -> None:
    frame = transactions(rows=30)
    from_table = registry.datasets.add("arrow", pa.Table.from_pandas(frame, preserve_index=False))
    assert from_table.rows == 30 and from_table.format == "parquet"
    path = tmp_path / "tx.parquet"
    frame.to_parquet(path, index=False)
    from_file = registry.datasets.add("file", path)
    pd.testing.assert_frame_equal(registry.datasets.load(from_file), frame, check_dtype=False)


def test_csv_with_text_in_a_numeric_column_reports_the_lines(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "ages.csv"
    lines = ["age,name"] + [f"{20 + i},p{i}" for i in range(20)]
    lines[6] = "unknown,p5"
    lines[12] = "twenty,p11"
    path.write_text("\n".join(lines) + "\n")
    version = registry.datasets.add("ages", path)
    assert version.notes["type_breaks"] == {"age": [5, 11]}
    from shipyard.datasets import describe_type_breaks

    assert describe_type_breaks(version.notes) == [
        "column 'age' is mostly numbers but has text on CSV line(s) 7, 13; it was read as text"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "cannot read"), ("a,b\n", "no rows")],
)
def test_unusable_files_are_refused_with_the_reason(
    registry: Registry, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        registry.datasets.add("bad", path)
    assert registry.datasets.list() == []


def test_unknown_suffix_missing_file_and_bad_names(registry: Registry, tmp_path: Path) -> None:
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(InvalidInput, match="suffix"):
        registry.datasets.add("odd", odd)
    with pytest.raises(InvalidInput, match="does not exist"):
        registry.datasets.add("gone", tmp_path / "gone.csv")
    with pytest.raises(InvalidInput, match="dataset name"):
        registry.datasets.add("a/b", transactions(rows=5))


def test_unknown_dataset_and_version_are_named(registry: Registry) -> None:
    registry.datasets.add("transactions", transactions(rows=10))
    with pytest.raises(NotFound, match="did you mean 'transactions'"):
        registry.datasets.get("transaction")
    with pytest.raises(NotFound, match="no version 4"):
        registry.datasets.get("transactions/4")
    with pytest.raises(InvalidInput, match="no aliases"):
        registry.datasets.get("transactions@prod")


def test_corrupted_dataset_is_an_integrity_error(registry: Registry) -> None:
    version = registry.datasets.add("tx", transactions(rows=10))
    stored = Path(registry.artifacts.object_path(version.sha256))
    stored.write_bytes(stored.read_bytes()[:-3] + b"xyz")
    with pytest.raises(IntegrityError, match="dataset tx/1"):
        registry.datasets.load("tx/1")


def test_adding_a_dataset_is_audited(registry: Registry) -> None:
    registry.datasets.add("tx", transactions(rows=10), reason="weekly export")
    event = registry.audit(action="dataset.")[-1]
    assert (event.target, event.reason, event.after["rows"]) == ("dataset:tx/1", "weekly export", 10)  # type: ignore[index]
