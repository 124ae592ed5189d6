"""A model registered from a file gets drift monitoring: a reference profile from data, at registration or
later (audited, refused twice unless replaced); without one, data quality still comes from the contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard import Contract, Registry, VersionMetadata
from shipyard.cli import main
from shipyard.errors import Conflict, InvalidInput
from shipyard.ids import new_request_id, prediction_id
from shipyard.monitoring.windows import monitor_window
from shipyard.predictions import LogWriter, PredictionLog, PredictionRecord
from shipyard.stats import Profile
from shipyard.training import train
from tests.models import classification_frame, tiny_classifier, transactions
from tests.serving.conftest import FEATURES, fraud_spec

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A model trained elsewhere, saved to a file, with its training data as CSV and Parquet."""
    folder = tmp_path_factory.mktemp("elsewhere")
    with Registry(home=folder / "trainer") as registry:
        registry.datasets.add("tx", transactions(rows=800))
        version = train(fraud_spec(), registry=registry, progress=False).version
        assert version is not None
        model = registry.export(version.ref, folder / "model.skops")
    data = transactions(rows=800)
    data.to_csv(folder / "train.csv", index=False)
    data.to_parquet(folder / "train.parquet")
    return model, folder / "train.csv", folder / "train.parquet"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["init"]) == 0
    return tmp_path / "ws"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_register_with_reference_builds_contract_and_profile_with_the_models_outputs(
    home: Path, exported: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    model, csv, parquet = exported
    assert main(["register", "fraud", str(model), "--reference", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "reference profile of 800 rows: drift is monitored" in out
    with Registry(home=home) as registry:
        version = registry.resolve("fraud/1")
    assert version.input_schema is not None and version.profile is not None
    assert [c["name"] for c in version.input_schema["columns"]] == FEATURES  # the model's features only
    profile = Profile.from_dict(version.profile)
    assert profile.rows == 800
    assert list(profile.layout.columns) == [*FEATURES, "_prediction", "_score"]

    assert main(["register", "fraud", str(model), "--reference", str(parquet)]) == 0
    with Registry(home=home) as registry:
        from_parquet = registry.resolve("fraud/2")
    assert from_parquet.input_schema == version.input_schema


def test_register_without_reference_says_drift_is_not_monitored(
    home: Path, exported: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register", "fraud", str(exported[0])]) == 0
    out = capsys.readouterr().out
    assert "no reference profile, so drift is not monitored" in out
    assert "shipyard profile build fraud/1 TRAINING_DATA" in out


def test_a_given_contract_is_kept_and_the_reference_must_meet_it(
    home: Path, exported: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, csv, _ = exported
    data = pd.read_csv(csv)
    contract = Contract.infer(data[FEATURES]).to_dict()
    for column in contract["columns"]:
        if column["name"] == "amount":
            column["maximum"] = 50.0  # stricter than the data: some reference rows break it
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(contract))
    capsys.readouterr()
    assert main(["register", "fraud", str(model), "--contract", str(path), "--reference", str(csv)]) == 2
    error = capsys.readouterr().err
    assert "breaks the new version of fraud's data contract" in error and "above_maximum" in error
    with Registry(home=home) as registry:
        assert registry.list_models() == []  # nothing registered

    for column in contract["columns"]:
        column.pop("maximum", None)
    path.write_text(json.dumps(contract))
    assert main(["register", "fraud", str(model), "--contract", str(path), "--reference", str(csv)]) == 0
    with Registry(home=home) as registry:
        version = registry.resolve("fraud/1")
    assert version.input_schema == Contract.from_dict(contract).to_dict() and version.profile is not None


def test_profile_build_adds_a_profile_once_unless_replaced_and_is_audited(
    home: Path, exported: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    model, csv, parquet = exported
    assert main(["register", "fraud", str(model)]) == 0
    added = _json(capsys, "profile", "build", "fraud/1", str(csv), "--reason", "drift for the old model")
    assert added["ref"] == "fraud/1" and added["rows"] == 800
    assert main(["profile", "build", "fraud/1", str(parquet)]) == 4
    assert "fraud/1 already has a reference profile (800 rows); pass replace=True (CLI: --replace)" in (
        capsys.readouterr().err
    )
    sample = pd.read_parquet(parquet).head(300)
    with Registry(home=home) as registry:
        replaced = registry.build_profile("fraud/1", sample, replace=True)
        events = registry.audit(model="fraud", action="version.profile")
    assert Profile.from_dict(replaced.profile or {}).rows == 300
    assert replaced.input_schema is None  # the version's contract is not invented afterwards
    assert [(e.action, e.target, e.reason) for e in events] == [
        ("version.profile.set", "fraud/1", "drift for the old model"),
        ("version.profile.set", "fraud/1", ""),
    ]
    columns = [*FEATURES, "_prediction", "_score"]
    assert events[0].before is None and events[0].after == {"rows": 800, "columns": columns}
    assert events[1].before == {"rows": 800, "columns": columns}
    assert events[1].after == {"rows": 300, "columns": columns}


def test_reference_data_without_the_models_features_is_refused(
    home: Path, exported: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "partial.csv"
    pd.read_csv(exported[1]).drop(columns=["channel"]).to_csv(partial, index=False)
    capsys.readouterr()
    assert main(["register", "fraud", str(exported[0]), "--reference", str(partial)]) == 2
    assert "lacks 1 of the new version of fraud's features: 'channel'" in capsys.readouterr().err
    with Registry(home=home) as registry, pytest.raises(InvalidInput, match="once"):
        registry.register(
            "fraud",
            path=exported[0],
            reference=exported[1],
            metadata=VersionMetadata(profile={"rows": 1}),
        )
    with Registry(home=home) as registry:
        version = registry.register("fraud", path=exported[0], reference=exported[2])
        with pytest.raises(Conflict, match="already has a reference profile"):
            registry.build_profile(version.ref, exported[2])


def test_data_quality_comes_from_the_contract_when_there_is_no_profile(
    home: Path, exported: tuple[Path, Path, Path]
) -> None:
    """docs/data.md: the contract's observed range and categories give out-of-range and unseen shares."""
    model, csv, _ = exported
    contract = Contract.infer(pd.read_csv(csv)[FEATURES])
    at = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - 3 * HOUR
    rows = pd.DataFrame(
        {
            "amount": [10.0, 20.0, 1e9, np.nan],  # one beyond the observed maximum, one missing
            "channel": ["web", "app", "fax", "web"],  # one category training never had
            "hour": [1, 2, 3, 4],
        }
    )
    with Registry(home=home) as registry:
        version = registry.register(
            "fraud", path=model, metadata=VersionMetadata(input_schema=contract.to_dict())
        )
        assert version.profile is None
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        request = new_request_id(at)
        ids = [prediction_id(request, i) for i in range(4)]
        predicted = np.zeros(4, dtype=np.int64)
        writer.submit(PredictionRecord(request, ids, at, "fraud", 1, "native", rows, predicted, None, 0.001))
        writer.close()
        start = at.replace(minute=0)
        window = monitor_window(
            registry, PredictionLog(registry.settings.log_url), version, start, start + HOUR
        )
    assert window.drift is None and "has no reference profile" in " ".join(window.notes)
    amount, channel, hour = (window.quality[name] for name in FEATURES)
    assert amount.missing_rate == 0.25 and amount.out_of_range_share == pytest.approx(1 / 3)
    assert (
        channel.missing_rate == 0.0 and channel.unseen_share == 0.25 and channel.reference_unseen_share == 0.0
    )
    assert hour.missing_rate == 0.0 and hour.out_of_range_share == 0.0


def test_reference_from_python_on_both_backends(registry: Registry) -> None:
    """``register(reference=)`` and ``build_profile`` on SQLite and PostgreSQL: one profile per version,
    replaced only when asked, every change audited."""
    frame, _ = classification_frame(rows=200)
    version = registry.register("churn", tiny_classifier(), reference=frame.assign(customer_id=range(200)))
    assert [c["name"] for c in (version.input_schema or {})["columns"]] == ["a", "b", "c"]
    profiled = set(Profile.from_dict(version.profile or {}).layout.columns)  # PostgreSQL keeps no key order
    assert profiled == {"a", "b", "c", "_prediction", "_score"}
    with pytest.raises(Conflict, match="churn/1 already has a reference profile"):
        registry.build_profile("churn/1", frame)
    replaced = registry.build_profile("churn@latest", frame.head(50), replace=True, reason="smaller")
    assert Profile.from_dict(replaced.profile or {}).rows == 50
    assert [(e.action, e.reason) for e in registry.audit(model="churn")] == [
        ("model.create", ""),
        ("version.register", ""),
        ("version.profile.set", "smaller"),
    ]
    with pytest.raises(
        InvalidInput, match=r"breaks churn/1's data contract in 1 of 200 row\(s\) \(row 3, a: null"
    ):
        registry.build_profile("churn/1", frame.assign(a=frame["a"].where(frame.index != 3)), replace=True)
