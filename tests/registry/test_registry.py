"""The registry's behaviour as a user sees it, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shipyard import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    Registry,
    Unauthorized,
    VersionMetadata,
)
from shipyard.flavors import get_flavor
from tests.models import ThresholdModel, classification_frame, tiny_classifier, tiny_regressor

DATA_HASH = hashlib.sha256(b"training data").hexdigest()


def test_versions_are_numbered_from_one_per_model(registry: Registry) -> None:
    first = registry.register("fraud", tiny_classifier(0))
    second = registry.register("fraud", tiny_classifier(1))
    other = registry.register("churn", tiny_regressor())
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert [v.version for v in registry.list_versions("fraud")] == [1, 2]
    assert registry.get_model("fraud").latest_version == 2


def test_version_records_format_artifact_description_and_metadata(registry: Registry) -> None:
    version = registry.register(
        "fraud",
        tiny_classifier(),
        description="# Fraud model\nFlags transactions.",
        metadata=VersionMetadata(
            metrics={"roc_auc": 0.91, "accuracy": np.float64(0.85)},
            params={"C": 1.0, "penalty": "l2", "classes": [0, 1]},
            tags={"team": "risk"},
            datasets={"train": DATA_HASH},
            seed=42,
            input_schema={"columns": {"a": "float"}},
        ),
    )
    assert version.flavor == "sklearn"
    assert len(version.artifact_sha256) == 64 and version.artifact_size > 0
    assert version.info.task == "classification"
    assert version.info.classes == [0, 1]
    assert version.info.feature_names == ["a", "b", "c"]
    assert version.metrics == {"roc_auc": 0.91, "accuracy": 0.85}
    assert version.params == {"C": 1.0, "penalty": "l2", "classes": "[0, 1]"}
    assert version.tags == {"team": "risk"}
    assert version.input_schema == {"columns": {"a": "float"}}
    assert version.created_by == "tester"
    lineage = version.lineage
    assert lineage["datasets"] == {"train": DATA_HASH}
    assert lineage["seed"] == 42
    assert lineage["python"] == platform.python_version()
    assert "scikit-learn" in lineage["packages"] and "numpy" in lineage["packages"]
    assert lineage["registered_by"] == "tester"
    stored = Path(registry.artifacts.object_path(version.artifact_sha256)).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == version.artifact_sha256


def test_lineage_records_git_commit_and_dirty_tree(registry: Registry, tmp_path: Path) -> None:
    repo = tmp_path / "code"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('train')\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()

    clean = registry.register("fraud", tiny_classifier(), metadata=VersionMetadata(code_dir=repo))
    assert clean.lineage["code"] == {"commit": commit, "dirty": False, "repository": "code"}
    (repo / "train.py").write_text("print('changed')\n")
    dirty = registry.register("fraud", tiny_classifier(), metadata=VersionMetadata(code_dir=repo))
    assert dirty.lineage["code"]["dirty"] is True

    outside = registry.register(
        "fraud", tiny_classifier(), metadata=VersionMetadata(code_dir=tmp_path / "ws")
    )
    assert outside.lineage["code"]["commit"] is None


def test_loaded_version_predicts_exactly_like_the_original(registry: Registry) -> None:
    model = tiny_classifier()
    registry.register("fraud", model)
    frame, _ = classification_frame(rows=300, seed=9)
    loaded = registry.load_model("fraud/1")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))


def test_registering_a_file_copies_it_in_and_never_reads_the_path_again(
    registry: Registry, tmp_path: Path
) -> None:
    model = tiny_classifier()
    saved = get_flavor("sklearn").save(model, tmp_path)
    version = registry.register("fraud", path=saved.path)
    assert version.flavor == "sklearn"
    saved.path.write_bytes(b"overwritten by someone else")
    frame, _ = classification_frame(seed=3)
    np.testing.assert_array_equal(registry.load_model(version.ref).predict(frame), model.predict(frame))


def test_identical_model_files_share_one_stored_artifact(registry: Registry, tmp_path: Path) -> None:
    saved = get_flavor("sklearn").save(tiny_classifier(), tmp_path)
    one = registry.register("fraud", path=saved.path)
    two = registry.register("churn", path=saved.path)
    assert one.artifact_sha256 == two.artifact_sha256
    objects = [p for p in Path(registry.artifacts.root, "objects").rglob("*") if p.is_file()]
    assert len(objects) == 1


@pytest.mark.parametrize("thing", [{"weights": [1, 2]}, "model.pkl", 42, None])
def test_registering_something_that_is_not_a_model_is_refused(registry: Registry, thing: object) -> None:
    with pytest.raises(InvalidInput):
        registry.register("fraud", thing)
    with pytest.raises(NotFound):
        registry.get_model("fraud")


def test_registering_a_file_that_is_not_a_model_is_refused(registry: Registry, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a model")
    with pytest.raises(InvalidInput, match="notes.txt"):
        registry.register("fraud", path=junk)
    with pytest.raises(InvalidInput, match="does not exist"):
        registry.register("fraud", path=tmp_path / "missing.skops")


def test_pickled_python_model_needs_trust_to_register_from_file_and_to_load(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register("rules", ThresholdModel(0.5))
    with pytest.raises(Unauthorized, match="trust"):
        registry.load_model("rules/1")
    loaded = registry.load_model("rules/1", trust=True)
    frame, _ = classification_frame(seed=1)
    np.testing.assert_array_equal(loaded.predict(frame), ThresholdModel(0.5).predict(frame))

    pickled = tmp_path / "rules.pkl"
    registry.export("rules/1", pickled)
    with pytest.raises(Unauthorized, match="arbitrary code"):
        registry.register("rules", path=pickled)
    assert registry.register("rules", path=pickled, trust=True).version == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("metrics", {"auc": float("nan")}, "finite"),
        ("metrics", {"auc": "high"}, "number"),
        ("datasets", {"train": "abc"}, "sha256"),
        ("tags", {"": "x"}, "tag names"),
        ("seed", "7", "seed"),
    ],
)
def test_bad_metadata_is_rejected_before_anything_is_stored(
    registry: Registry, field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        registry.register("fraud", tiny_classifier(), metadata=VersionMetadata(**{field: value}))  # type: ignore[arg-type]
    assert registry.list_models() == []


def test_every_reference_spelling_resolves(registry: Registry) -> None:
    registry.register("fraud", tiny_classifier(0))
    registry.register("fraud", tiny_classifier(1))
    registry.set_alias("fraud", "production", 1)
    assert registry.resolve("fraud/2").version == 2
    assert registry.resolve("models:/fraud/1").version == 1
    assert registry.resolve("fraud@production").version == 1
    assert registry.resolve("models:/fraud@production").aliases == ("production",)
    assert registry.resolve("fraud").version == 2
    assert registry.resolve("fraud@latest").version == 2


def test_unknown_model_alias_and_version_name_what_is_missing(registry: Registry) -> None:
    registry.register("fraud", tiny_classifier())
    registry.set_alias("fraud", "production", 1)
    with pytest.raises(NotFound, match=r"model 'frad' not found.*did you mean 'fraud'"):
        registry.resolve("frad/1")
    with pytest.raises(NotFound, match=r"alias 'prod' not found in model 'fraud'.*production"):
        registry.resolve("fraud@prod")
    with pytest.raises(NotFound, match=r"model 'fraud' has no version 7 \(only version 1\)"):
        registry.resolve("fraud/7")
    with pytest.raises(NotFound, match="has no version 3"):
        registry.set_alias("fraud", "staging", 3)


def test_create_model_twice_is_a_conflict(registry: Registry) -> None:
    registry.create_model("fraud", description="d", tags={"team": "risk"})
    with pytest.raises(Conflict, match="already exists"):
        registry.create_model("fraud")
    model = registry.get_model("fraud")
    assert (model.description, model.tags, model.latest_version) == ("d", {"team": "risk"}, None)
    with pytest.raises(NotFound, match="no versions yet"):
        registry.resolve("fraud")


def test_alias_set_move_delete_and_history(registry: Registry) -> None:
    for seed in range(3):
        registry.register("fraud", tiny_classifier(seed))
    registry.set_alias("fraud", "production", 1, reason="launch")
    change = registry.set_alias("fraud", "production", 3, reason="better")
    assert (change.previous_version, change.version) == (1, 3)
    assert registry.set_alias("fraud", "production", 3).action == "unchanged"
    registry.set_alias("fraud", "staging", 2)
    assert registry.get_model("fraud").aliases == {"production": 3, "staging": 2}
    registry.delete_alias("fraud", "staging")
    assert registry.get_model("fraud").aliases == {"production": 3}
    with pytest.raises(NotFound, match="alias 'staging'"):
        registry.resolve("fraud@staging")
    with pytest.raises(NotFound):
        registry.delete_alias("fraud", "staging")
    history = registry.alias_history("fraud", "production")
    assert [(h.previous_version, h.version, h.reason) for h in history] == [
        (None, 1, "launch"),
        (1, 3, "better"),
    ]
    assert [h.action for h in registry.alias_history("fraud")] == ["set", "set", "set", "delete"]


def test_rollback_restores_previous_version_and_keeps_walking_back(registry: Registry) -> None:
    for seed in range(3):
        registry.register("fraud", tiny_classifier(seed))
    for version in (1, 2, 3):
        registry.set_alias("fraud", "production", version)
    change = registry.rollback("fraud@production", reason="v3 is slow")
    assert (change.previous_version, change.version, change.action) == (3, 2, "rollback")
    assert registry.resolve("fraud@production").version == 2
    registry.rollback("fraud@production")
    assert registry.resolve("fraud@production").version == 1
    with pytest.raises(Conflict, match="no earlier version"):
        registry.rollback("fraud@production")


def test_rollback_after_a_new_release_returns_to_the_release_before_it(registry: Registry) -> None:
    for seed in range(3):
        registry.register("fraud", tiny_classifier(seed))
    registry.set_alias("fraud", "production", 1)
    registry.set_alias("fraud", "production", 2)
    registry.rollback("fraud@production")  # back on 1
    registry.set_alias("fraud", "production", 3)
    assert registry.rollback("fraud@production").version == 1


def test_rollback_undoes_an_alias_deletion_and_accepts_an_explicit_target(registry: Registry) -> None:
    for seed in range(3):
        registry.register("fraud", tiny_classifier(seed))
    registry.set_alias("fraud", "production", 2)
    registry.delete_alias("fraud", "production")
    assert registry.rollback("fraud@production").version == 2
    assert registry.rollback("fraud@production", to=3).version == 3
    with pytest.raises(InvalidInput, match="alias reference"):
        registry.rollback("fraud/2")
    with pytest.raises(NotFound, match="alias 'canary'"):
        registry.rollback("fraud@canary")


def test_audit_trail_records_actor_action_before_after_and_reason(registry: Registry) -> None:
    registry.register("fraud", tiny_classifier(0), reason="nightly")
    registry.register("fraud", tiny_classifier(1))
    registry.set_alias("fraud", "production", 1)
    registry.set_alias("fraud", "production", 2, reason="promote")
    registry.rollback("fraud@production", reason="incident 42")
    events = registry.audit(model="fraud")
    assert [e.action for e in events] == [
        "model.create",
        "version.register",
        "version.register",
        "alias.set",
        "alias.set",
        "alias.rollback",
    ]
    last = events[-1]
    assert (last.actor, last.target, last.before, last.after, last.reason) == (
        "tester",
        "fraud@production",
        {"version": 2},
        {"version": 1},
        "incident 42",
    )
    assert events[1].reason == "nightly" and events[1].after is not None
    assert [e.action for e in registry.audit(action="alias.")] == ["alias.set", "alias.set", "alias.rollback"]
    assert len(registry.audit(limit=2)) == 2
    assert registry.audit(limit=2)[-1].action == "alias.rollback"


def test_tags_and_descriptions_change_with_an_audit_entry(registry: Registry) -> None:
    registry.register("fraud", tiny_classifier())
    registry.set_model_tag("fraud", "owner", "risk-team")
    registry.update_model("fraud", description="Fraud scoring")
    registry.set_version_tag("fraud/1", "validated", True)
    assert registry.get_model("fraud").tags == {"owner": "risk-team"}
    assert registry.get_model("fraud").description == "Fraud scoring"
    assert registry.resolve("fraud/1").tags == {"validated": "True"}
    registry.delete_version_tag("fraud/1", "validated")
    registry.delete_model_tag("fraud", "owner")
    with pytest.raises(NotFound, match="tag 'owner'"):
        registry.delete_model_tag("fraud", "owner")
    actions = [e.action for e in registry.audit(model="fraud")]
    assert actions[-5:] == [
        "model.tag.set",
        "model.update",
        "version.tag.set",
        "version.tag.delete",
        "model.tag.delete",
    ]


def test_flipped_byte_in_a_stored_artifact_is_an_integrity_error_naming_the_version(
    registry: Registry,
) -> None:
    version = registry.register("fraud", tiny_classifier())
    stored = Path(registry.artifacts.object_path(version.artifact_sha256))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="fraud/1"):
        registry.load_model("fraud/1")
    with pytest.raises(IntegrityError, match="corrupted"):
        registry.verify("fraud@latest")


def test_missing_artifact_is_an_integrity_error(registry: Registry) -> None:
    version = registry.register("fraud", tiny_classifier())
    Path(registry.artifacts.object_path(version.artifact_sha256)).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        registry.load_model("fraud/1")


def test_model_card_combines_user_text_with_recorded_facts(registry: Registry) -> None:
    from shipyard import render_model_card

    version = registry.register(
        "fraud",
        tiny_classifier(),
        description="Flags fraud.",
        metadata=VersionMetadata(metrics={"roc_auc": 0.9}, seed=3),
    )
    card = render_model_card(version)
    assert card.startswith("# fraud — version 1\n\nFlags fraud.")
    assert "| roc_auc | 0.9 |" in card
    assert "- Seed: 3" in card
    assert version.artifact_sha256 in card


def test_registry_reopens_with_all_state(workspace: Path, registry_url: str) -> None:
    with Registry(home=workspace, registry_url=registry_url) as first:
        first.register("fraud", tiny_classifier())
        first.set_alias("fraud", "production", 1)
    with Registry(home=workspace, registry_url=registry_url) as second:
        assert second.resolve("fraud@production").version == 1
