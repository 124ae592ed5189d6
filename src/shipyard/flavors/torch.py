"""PyTorch modules, stored as TorchScript archives.

Why TorchScript rather than ``torch.save``: ``torch.save`` of a module pickles its Python class, so loading
runs arbitrary code like any pickle. A TorchScript archive holds the compiled graph and code for the
TorchScript interpreter; ``torch.jit.load`` rebuilds it with a restricted C++ unpickler that only creates
tensors and TorchScript objects, and runs no Python from the file. That is a far smaller attack surface
than pickle (not a sandbox), so the format does not ask for trust. Why not ``torch.export``: it needs an
example input, which a registered module does not come with.

A plain ``nn.Module`` is compiled with ``torch.jit.script``; one that cannot be scripted is refused with the
reason, and the caller can pass ``torch.jit.trace(model, example)`` instead (a traced module is already a
ScriptModule). torch 2.13 deprecates the ``torch.jit`` API in favour of ``torch.export``; the warnings are
silenced here because no replacement loads a module without example inputs yet.

Input is a 2-D float table (cast to the module's parameter dtype); the output tensor is returned as an
array, (rows, 1) flattened to (rows,). The archive records no class labels, so the task is "unknown".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._optional import loaded, require
from shipyard.flavors._sniffing import zip_member_names
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription, SavedModel


class TorchFlavor(Flavor):
    """``torch.nn.Module`` objects, as one TorchScript archive."""

    name = "torch"
    file_name = "model.pt"

    def accepts_object(self, obj: Any) -> bool:
        torch = loaded("torch")
        return torch is not None and isinstance(obj, torch.nn.Module)

    def accepts_file(self, path: Path) -> bool:
        # A TorchScript archive has compiled code and constants; torch.save output (a pickled module or a
        # state dict) has neither, and is not accepted.
        names = zip_member_names(path)
        if names is None:
            return False
        return any(name.endswith("/constants.pkl") for name in names) and any(
            "/code/" in name for name in names
        )

    def save(self, obj: Any, directory: Path) -> SavedModel:
        if not self.accepts_object(obj):
            raise InvalidInput(f"the torch format saves torch.nn.Module objects; got {type(obj).__name__}")
        import torch

        if isinstance(obj, torch.jit.ScriptModule):
            scripted = obj
        else:
            try:
                with _quiet_torch_jit():
                    scripted = torch.jit.script(obj)
            except Exception as error:  # TorchScript's frontend raises many unrelated exception types
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise InvalidInput(
                    f"{type(obj).__name__} cannot be compiled with torch.jit.script ({reason}); make "
                    "forward() TorchScript-compatible, or register torch.jit.trace(model, example) instead"
                ) from error
        path = directory / self.file_name
        with _quiet_torch_jit():
            torch.jit.save(scripted, str(path))
        metadata = {
            "serializer": "torchscript",
            "torch_version": torch.__version__,
            "input_dtype": str(_parameter_dtype(scripted)).removeprefix("torch."),
        }
        return SavedModel(path=path, metadata=metadata)

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        torch = require("torch", extra="torch", purpose="loading a PyTorch model")
        try:
            with _quiet_torch_jit():
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:  # RuntimeError for most archive problems, ValueError for some
            raise InvalidInput(f"torch could not load '{path.name}' as TorchScript: {error}") from error
        module.eval()
        dtype = getattr(torch, str(metadata.get("input_dtype") or ""), None)
        return TorchModel(module, dtype if isinstance(dtype, torch.dtype) else _parameter_dtype(module))

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        return {"serializer": "torchscript"}


class TorchModel(LoadedModel):
    """A TorchScript module in eval mode, fed a float tensor of the input rows."""

    flavor = "torch"

    def __init__(self, module: Any, input_dtype: Any) -> None:
        self._module = module
        self._input_dtype = input_dtype
        self._layout = FeatureLayout()

    @property
    def native(self) -> Any:
        return self._module

    def describe(self) -> ModelDescription:
        return ModelDescription(task="unknown")

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        import torch

        try:
            rows = np.asarray(self._layout.matrix(data), dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise InvalidInput(f"a torch model takes numeric input: {error}") from error
        with torch.inference_mode():
            # torch.tensor copies: arrays from pandas are often read-only, which torch warns about.
            output = self._module(torch.tensor(rows, dtype=self._input_dtype))
        if isinstance(output, tuple | list):
            output = output[0]
        predictions = output.detach().cpu().numpy()
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            return predictions.ravel()
        return predictions


def _parameter_dtype(module: Any) -> Any:
    """The dtype of the module's first floating-point parameter; float32 when it has none."""
    import torch

    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


@contextmanager
def _quiet_torch_jit() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit.*")
        yield
