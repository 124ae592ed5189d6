"""Choosing the format: by name, from an object, from a file — and refusing clearly when none fits."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.errors import InvalidInput, MissingDependency, NotFound
from shipyard.flavors import FLAVOR_NAMES, flavor_for_file, flavor_for_object, get_flavor


class _Scorer:
    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(data))


@pytest.mark.parametrize("name", FLAVOR_NAMES)
def test_get_flavor_returns_the_flavor_with_that_name(name: str) -> None:
    assert get_flavor(name).name == name


def test_get_flavor_with_a_typo_is_not_found_and_suggests_the_name() -> None:
    with pytest.raises(NotFound, match=r"model format 'sklern' not found; did you mean 'sklearn'"):
        get_flavor("sklern")


def test_every_flavor_has_a_distinct_file_name() -> None:
    file_names = [get_flavor(name).file_name for name in FLAVOR_NAMES]
    assert len(set(file_names)) == len(file_names)


def test_only_the_python_format_needs_trust() -> None:
    assert [name for name in FLAVOR_NAMES if get_flavor(name).needs_trust] == ["python"]


def test_a_dict_is_refused_naming_its_type_and_the_supported_formats() -> None:
    with pytest.raises(InvalidInput) as caught:
        flavor_for_object({"weights": [1, 2]})
    message = str(caught.value)
    assert "cannot register an object of type 'builtins.dict'" in message
    assert "scikit-learn, XGBoost, LightGBM, ONNX" in message
    assert "predict() method via the 'python' format" in message


def test_a_string_is_refused_with_a_hint_to_register_the_file() -> None:
    with pytest.raises(InvalidInput, match=r"'builtins.str'.*register the file instead"):
        flavor_for_object("model.onnx")


def test_an_unfitted_sklearn_estimator_is_refused_as_not_fitted() -> None:
    with pytest.raises(InvalidInput, match=r"LogisticRegression is not fitted: call fit\(\)"):
        flavor_for_object(LogisticRegression())


def test_an_unfitted_pipeline_is_refused_as_not_fitted() -> None:
    with pytest.raises(InvalidInput, match=r"Pipeline is not fitted"):
        flavor_for_object(make_pipeline(StandardScaler(), LogisticRegression()))


def test_a_fitted_transformer_is_refused_because_it_cannot_predict(numeric_table: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"StandardScaler has no predict\(\) method"):
        flavor_for_object(StandardScaler().fit(numeric_table))


def test_a_model_class_rather_than_an_instance_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"'abc.ABCMeta'|'builtins.type'"):
        flavor_for_object(LinearRegression)


def test_a_fitted_sklearn_estimator_is_the_sklearn_format(
    numeric_table: pd.DataFrame, target: np.ndarray
) -> None:
    assert flavor_for_object(LinearRegression().fit(numeric_table, target)).name == "sklearn"


def test_any_object_with_predict_is_the_python_format() -> None:
    assert flavor_for_object(_Scorer()).name == "python"


def test_a_random_bytes_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(
        InvalidInput, match=r"'weights.bin' is not a saved model in a format shipyard recognises"
    ):
        flavor_for_file(path)


def test_an_empty_file_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.touch()
    with pytest.raises(InvalidInput, match=r"'model.pkl' is empty"):
        flavor_for_file(path)


def test_a_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("tree house plans\n")
    with pytest.raises(InvalidInput, match=r"'notes.txt' is not a saved model"):
        flavor_for_file(path)


def test_a_missing_path_is_refused_asking_to_check_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no such file: .*absent.onnx'; check the path"):
        flavor_for_file(tmp_path / "absent.onnx")


def test_a_directory_is_refused_asking_for_the_file_inside(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"is not a file; pass the saved model file itself"):
        flavor_for_file(tmp_path)


def test_importing_and_detecting_loads_no_optional_library() -> None:
    """Detection must not import a library the caller never used, nor pay for one at import time."""
    script = (
        "import sys\n"
        "import shipyard.flavors as flavors\n"
        "from shipyard.errors import InvalidInput\n"
        "class Scorer:\n"
        "    def predict(self, data): return data\n"
        "assert flavors.flavor_for_object(Scorer()).name == 'python'\n"
        "try:\n"
        "    flavors.flavor_for_object({})\n"
        "except InvalidInput:\n"
        "    pass\n"
        "heavy = ['xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'torch', 'skl2onnx']\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    source = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": source, "PATH": ""},
    )
    assert result.stdout.strip() == ""


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_file_sniffing_never_raises_on_arbitrary_bytes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload.bin"
        path.write_bytes(content)
        for name in FLAVOR_NAMES:
            assert get_flavor(name).accepts_file(path) in (True, False)


def test_loading_without_the_optional_library_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "model.ubj"
    path.write_bytes(b'{"learner": {}}')
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes `import xgboost` fail like a missing package
    with pytest.raises(MissingDependency, match=r"pip install 'shipyard\[xgboost\]'"):
        get_flavor("xgboost").load(path, {"kind": "XGBClassifier"})


def test_an_onnx_file_is_recognised_even_without_the_onnx_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # ModelProto header: ir_version=8, producer_name="x", then a graph field.
    path = tmp_path / "model.onnx"
    path.write_bytes(bytes([0x08, 0x08, 0x12, 0x01, ord("x"), 0x3A, 0x00]))
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert flavor_for_file(path).name == "onnx"
    with pytest.raises(MissingDependency, match=r"pip install 'shipyard\[onnx\]'"):
        get_flavor("onnx").load(path, {})
