"""A model's description and a version's are two things, as in MLflow: ``register --description`` (and
``Registry.register(description=)``) describes the version; ``models describe`` (``update_model``) the model.
A version's card prints as the Markdown it is, to be redirected into a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard import Registry, render_model_card
from shipyard.cli import main
from shipyard.flavors import get_flavor
from tests.models import tiny_classifier


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["init"]) == 0
    return tmp_path / "ws"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return get_flavor("sklearn").save(tiny_classifier(), tmp_path).path


def test_register_describes_the_version_and_models_describe_the_model(
    home: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register", "fraud", str(model_file), "-d", "Retrained on November."]) == 0
    with Registry(home=home) as registry:
        assert registry.get_model("fraud").description == ""
        assert registry.resolve("fraud/1").description == "Retrained on November."

    assert main(["models", "describe", "fraud", "Flags card fraud.", "--reason", "for the catalogue"]) == 0
    assert "fraud: description set" in capsys.readouterr().out
    text = tmp_path / "about.md"
    text.write_text("# Fraud\n\nFlags card fraud, in Markdown.\n")
    capsys.readouterr()
    assert main(["models", "describe", "fraud", "--file", str(text), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["description"] == text.read_text()
    with Registry(home=home) as registry:
        assert registry.resolve("fraud/1").description == "Retrained on November."  # untouched
        events = registry.audit(model="fraud", action="model.update")
    assert [e.reason for e in events] == ["for the catalogue", ""]
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    assert "Flags card fraud" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "describe", "fraud"], "give the description as TEXT or with --file"),
        (["models", "describe", "fraud/1", "text"], "describes a model, not a version"),
        (["models", "describe", "nope", "text"], "model 'nope' not found"),
    ],
)
def test_models_describe_refuses_what_it_cannot_do(
    home: Path, model_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["register", "fraud", str(model_file)]) == 0
    capsys.readouterr()
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_the_card_prints_as_plain_markdown_without_wrapping(
    home: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_line = "This model flags " + "very " * 40 + "suspicious payments."  # 200+ characters
    assert main(["register", "fraud", str(model_file), "-d", long_line, "-m", "auc=0.91"]) == 0
    capsys.readouterr()
    assert main(["models", "show", "fraud/1", "--card"]) == 0
    out = capsys.readouterr().out
    with Registry(home=home) as registry:
        assert out == render_model_card(registry.resolve("fraud/1"))
    assert out.startswith("# fraud — version 1\n") and f"\n{long_line}\n" in out
    assert "| auc | 0.91 |" in out and "\x1b[" not in out
