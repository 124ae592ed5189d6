"""Any Python object with a ``predict()`` method, stored with cloudpickle: the format of last resort.

It takes what no other flavor can (custom classes, closures, pipelines with third-party steps), at a price:
loading a pickle runs whatever code the file's author put in it. So the format is marked ``needs_trust`` and
``load`` refuses unless the caller passes ``trust=True``. Files are read with the standard unpickler, or with
joblib's when ``joblib.dump`` wrote them, so a user's own ``model.pkl`` or ``model.joblib`` (uncompressed)
registers as this format too.
"""

from __future__ import annotations

import pickle
import sys
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, Unauthorized
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._sniffing import read_head
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription, SavedModel

_PICKLE_PROTOCOL_OPCODE = 0x80
_SNIFFED_PROTOCOLS = range(2, 6)
#: joblib.dump writes numpy arrays as this class followed by raw bytes, which only joblib can read back.
_JOBLIB_MARKER = b"NumpyArrayWrapper"


class PythonFlavor(Flavor):
    """Objects with a callable ``predict``, as one cloudpickle file; loading needs trust."""

    name = "python"
    file_name = "model.pkl"
    needs_trust = True

    def accepts_object(self, obj: Any) -> bool:
        return not isinstance(obj, type) and callable(getattr(obj, "predict", None))

    def accepts_file(self, path: Path) -> bool:
        head = read_head(path, 2)
        return len(head) == 2 and head[0] == _PICKLE_PROTOCOL_OPCODE and head[1] in _SNIFFED_PROTOCOLS

    def save(self, obj: Any, directory: Path) -> SavedModel:
        if not self.accepts_object(obj):
            raise InvalidInput(
                f"the python format saves objects with a predict() method; {type(obj).__name__} has none"
            )
        import cloudpickle

        path = directory / self.file_name
        try:
            with path.open("wb") as stream:
                cloudpickle.dump(obj, stream)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise InvalidInput(f"cannot pickle this {type(obj).__name__}: {error}") from error
        metadata = {
            "serializer": "cloudpickle",
            "cloudpickle_version": cloudpickle.__version__,
            "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
            "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "packages": _distributions_of(type(obj).__module__),
        }
        return SavedModel(path=path, metadata=metadata)

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        if not trust:
            raise Unauthorized(
                f"'{path.name}' is in the 'python' format (a pickle), which can execute arbitrary code when "
                "loaded. Pass trust=True (Python) or --trust (CLI) only for files from someone you trust"
            )
        content = path.read_bytes()
        try:
            if _JOBLIB_MARKER in content:
                import joblib

                obj = joblib.load(path)
            else:
                obj = pickle.loads(content)
        except Exception as error:  # unpickling can raise anything the pickled code raises
            raise InvalidInput(
                f"could not unpickle '{path.name}': {type(error).__name__}: {error}"
            ) from error
        if not self.accepts_object(obj):
            raise InvalidInput(f"'{path.name}' holds a {type(obj).__name__}, which has no predict() method")
        return PythonModel(obj)

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        return {"serializer": "pickle"}


class PythonModel(LoadedModel):
    """An object's own ``predict``; DataFrame columns are matched only if it has ``feature_names_in_``."""

    flavor = "python"

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        names = getattr(obj, "feature_names_in_", None)
        self._layout = FeatureLayout(
            names=None if names is None else [str(name) for name in names],
            count=getattr(obj, "n_features_in_", None),
        )

    @property
    def native(self) -> Any:
        return self._obj

    def describe(self) -> ModelDescription:
        classes = getattr(self._obj, "classes_", None)
        return ModelDescription(
            task="unknown" if classes is None else "classification",
            classes=None if classes is None or np.ndim(classes) != 1 else list(classes),
            feature_names=self._layout.names,
            n_features=self._layout.count,
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        return np.asarray(self._obj.predict(self._features(data)))

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self._obj, "predict_proba", None))

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self.has_proba:
            return super().predict_proba(data)
        return np.asarray(self._obj.predict_proba(self._features(data)))

    def _features(self, data: pd.DataFrame | np.ndarray) -> Any:
        # Without recorded names shipyard cannot know what the object expects, so it gets the input as given.
        return data if self._layout.names is None else self._layout.frame(data)


def _distributions_of(module: str) -> list[str]:
    """Installed distributions that provide ``module``: what a machine loading the pickle needs as well.

    The registry records their versions next to the model, because a pickle only loads where the classes
    it names can be imported.
    """
    top_level = module.split(".")[0]
    return sorted(set(package_metadata.packages_distributions().get(top_level, [])))
