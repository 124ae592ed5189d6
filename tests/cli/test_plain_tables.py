"""Tables piped or captured (stdout not a terminal) are plain lines: one per row, every value whole.

A CI log or ``| grep`` must show a batch run's id on the line of its run, whatever the terminal width, so it
can be copied to resume the run; and the confusion matrix names each class the same way on both axes.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shipyard.cli import main
from tests.models import transactions

BOX_DRAWING = set("│┃─━┏┓┗┛┡┩└┘┌┐├┤┼╇")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace and a fraud table whose label is written 0.0 / 1.0, as a CSV with floats has it."""
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal width must not matter when output is piped
    frame = transactions(rows=300).drop(columns=["day", "customer"])
    frame["fraud"] = frame["fraud"].astype(float)
    frame.to_csv(tmp_path / "tx.csv", index=False)
    (tmp_path / "spec.toml").write_text(
        textwrap.dedent(
            """
            model = "fraud"
            seed = 5
            task = "classification"
            [data]
            path = "tx.csv"
            target = "fraud"
            [estimator]
            class = "sklearn.linear_model.LogisticRegression"
            params = { max_iter = 300 }
            [cv]
            folds = 3
            """
        )
    )
    return tmp_path


def _lines_after(out: str, title: str, count: int) -> list[list[str]]:
    """The ``count`` lines after the line ``title``, split into their space-separated cells."""
    lines = out.splitlines()
    start = lines.index(title) + 1
    return [line.split() for line in lines[start : start + count]]


def test_a_piped_table_keeps_a_long_name_and_its_hash_whole_on_its_row(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "transactions-" + "very-long-dataset-name-" * 6 + "end"
    assert main(["data", "add", str(project / "tx.csv"), "--name", name]) == 0
    capsys.readouterr()
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out

    assert not BOX_DRAWING & set(out)
    header, row = out.splitlines()
    assert header.split()[:3] == ["dataset", "version", "rows"]
    assert row.startswith(f"{name}  ") and " 300 " in row
    sha256 = row.split()[5]
    assert len(sha256) == 64 and "…" not in row  # the hash whole, not its 12-digit prefix
    assert header.index("rows") == row.index("300")  # columns line up under their headers


def test_the_batch_run_id_is_whole_on_the_line_of_its_run_and_the_confusion_labels_match(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(project / "spec.toml")]) == 0
    trained = capsys.readouterr().out
    title = "confusion matrix (rows: true, columns: predicted)"
    header, *rows = _lines_after(trained, title, 3)
    assert header == ["0.0", "1.0"]  # the classes as trained: floats
    assert [row[0] for row in rows] == header  # the same labels down the side
    assert all(cell.isdigit() for row in rows for cell in row[1:])

    output = project / ("a-folder-with-a-long-name-" * 4) / "scored"
    assert main(["score", "fraud/1", "-i", str(project / "tx.csv"), "-o", str(output)]) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["run_id"]
    assert main(["runs"]) == 0
    out = capsys.readouterr().out

    assert not BOX_DRAWING & set(out)
    (line,) = [line for line in out.splitlines() if run_id in line]
    assert line.split()[:3] == [run_id, "fraud/1", "succeeded"] and line.endswith(str(output))
    assert len(line) > 80  # longer than the terminal width given, and still one line
