"""The torch format: modules are stored as TorchScript and predict the same after loading."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.flavors import flavor_for_file, flavor_for_object, get_flavor

torch = pytest.importorskip("torch")


class Scorer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(rows))


class Unscriptable(torch.nn.Module):
    def forward(self, rows):  # type: ignore[no-untyped-def]
        return rows * len({str(value) for value in rows.tolist()})


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    torch.manual_seed(0)
    return Scorer().eval()


@pytest.fixture(scope="module")
def rows(numeric_table: pd.DataFrame) -> np.ndarray:
    return ((numeric_table - numeric_table.mean()) / numeric_table.std()).to_numpy(dtype=np.float32)


def test_torch_module_round_trip_predicts_identically(
    scorer: Scorer, rows: np.ndarray, tmp_path: Path
) -> None:
    flavor = flavor_for_object(scorer)
    assert flavor.name == "torch"
    saved = flavor.save(scorer, tmp_path)
    assert saved.metadata["serializer"] == "torchscript"
    loaded = flavor.load(saved.path, saved.metadata)
    with torch.no_grad():
        expected = scorer(torch.tensor(rows)).numpy().ravel()
    np.testing.assert_array_equal(loaded.predict(rows), expected)
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame(rows)), expected)
    assert loaded.describe().task == "unknown"
    assert flavor_for_file(saved.path).name == "torch"


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
def test_traced_module_is_saved_as_it_is(scorer: Scorer, rows: np.ndarray, tmp_path: Path) -> None:
    traced = torch.jit.trace(scorer, torch.tensor(rows[:2]))
    flavor = get_flavor("torch")
    loaded = flavor.load(flavor.save(traced, tmp_path).path, {})
    np.testing.assert_array_equal(loaded.predict(rows), traced(torch.tensor(rows)).detach().numpy().ravel())


def test_unscriptable_module_is_invalid_input_suggesting_trace(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot be compiled with torch.jit.script.*torch.jit.trace"):
        get_flavor("torch").save(Unscriptable(), tmp_path)


def test_torch_save_state_dict_is_not_mistaken_for_a_model(scorer: Scorer, tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(scorer.state_dict(), path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(InvalidInput, match=r"'weights.pt' is not a saved model"):
        flavor_for_file(path)
