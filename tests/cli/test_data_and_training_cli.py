"""``shipyard data``, ``train``, ``reproduce`` and ``contract`` from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from shipyard.cli import main
from tests.models import transactions


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    transactions(rows=300).to_csv(tmp_path / "tx.csv", index=False)
    (tmp_path / "spec.toml").write_text(
        textwrap.dedent(
            """
            model = "fraud"
            seed = 5
            [data]
            path = "tx.csv"
            target = "fraud"
            exclude = ["day", "customer"]
            [estimator]
            class = "sklearn.linear_model.LogisticRegression"
            params = { max_iter = 300 }
            [cv]
            folds = 3
            [evaluation]
            slices = ["channel"]
            min_slice_rows = 5
            """
        )
    )
    return tmp_path


def output_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_data_add_list_show(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "add", str(project / "tx.csv"), "--name", "tx"]) == 0
    assert "added tx/1: 300 rows × 6 columns" in capsys.readouterr().out
    assert main(["data", "add", str(project / "tx.csv"), "--name", "tx"]) == 0
    assert "already stored as tx/1" in capsys.readouterr().out
    listed = output_json(capsys, "data", "list")
    assert [item["ref"] for item in listed] == ["tx/1"]  # type: ignore[union-attr,index]
    shown = output_json(capsys, "data", "show", "tx/1")
    assert isinstance(shown, dict) and shown["rows"] == 300
    assert {c["name"] for c in shown["contract"]["columns"]} >= {"amount", "channel", "fraud"}
    assert main(["data", "show", "tx"]) == 0
    assert "channel" in capsys.readouterr().out
    assert main(["data", "show", "nope"]) == 3


def test_train_prints_the_report_and_registers(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(project / "spec.toml")]) == 0
    out = capsys.readouterr().out
    assert "registered fraud/1" in out
    for expected in ("roc_auc", "fold 3", "hold-out", "channel = web", "confusion matrix"):
        assert expected in out
    result = output_json(capsys, "train", str(project / "spec.toml"), "--no-register")
    assert isinstance(result, dict) and result["version"] is None
    assert result["report"]["holdout_rows"] == 60


def test_reproduce_exit_code_says_whether_metrics_match(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(project / "spec.toml")]) == 0
    outcome = output_json(capsys, "reproduce", "fraud/1")
    assert isinstance(outcome, dict) and outcome["matches"] is True
    assert main(["reproduce", "fraud/1"]) == 0
    assert "reproduced: yes" in capsys.readouterr().out


def test_contract_export_edit_and_validate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(project / "spec.toml")]) == 0
    contract_file = project / "contract.yaml"
    assert main(["contract", "export", "fraud/1", "-o", str(contract_file)]) == 0
    document = yaml.safe_load(contract_file.read_text())
    assert [column["name"] for column in document["columns"]] == ["amount", "channel", "hour"]

    assert main(["contract", "validate", "fraud/1", str(project / "tx.csv")]) == 0
    assert "all 300 rows meet the contract" in capsys.readouterr().out

    for column in document["columns"]:
        if column["name"] == "hour":
            column["maximum"] = 12
    contract_file.write_text(yaml.safe_dump(document, sort_keys=False))
    rejected = project / "rejected.csv"
    code = main(
        [
            "contract",
            "validate",
            "fraud/1",
            str(project / "tx.csv"),
            "--contract",
            str(contract_file),
            "--rejected",
            str(rejected),
        ]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "above_maximum" in out and "hour" in out
    assert rejected.is_file() and "_problems" in rejected.read_text().splitlines()[0]

    assert main(["contract", "show", "fraud/1"]) == 0
    assert "category" in capsys.readouterr().out


def test_register_with_a_contract_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(project / "spec.toml")]) == 0
    contract_file = project / "contract.json"
    assert main(["contract", "export", "fraud/1", "--format", "json", "-o", str(contract_file)]) == 0
    model_file = project / "model.skops"
    assert main(["models", "export", "fraud/1", str(model_file)]) == 0
    assert main(["register", "copy", str(model_file), "--contract", str(contract_file)]) == 0
    shown = output_json(capsys, "contract", "show", "copy/1")
    assert isinstance(shown, dict) and len(shown["columns"]) == 3
