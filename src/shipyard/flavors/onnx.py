"""ONNX models, run with ONNX Runtime on the CPU.

An ONNX file is a protobuf graph: loading it parses data and never runs Python, which makes it the format of
choice for models that come from outside. Two input layouts are supported. A graph with one 2-D tensor
input gets the whole table as one matrix, cast to the input's element type. A graph with several inputs —
what skl2onnx produces for a ColumnTransformer over mixed types — gets one DataFrame column per input,
matched by input name, shaped (rows, 1). The first output is the prediction; a second output, when
present, holds probabilities, either as a tensor or as skl2onnx's ZipMap (a list of {label: p} dicts),
which is turned into a (rows, classes) array ordered like ``describe().classes``.

Models that keep their weights in external data files are refused: a registry artifact is one file, and
following a path written inside a model file would let that file read others on the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.flavors._features import FeatureLayout
from shipyard.flavors._optional import installed, loaded, require
from shipyard.flavors._sniffing import read_head
from shipyard.flavors.base import Flavor, LoadedModel, ModelDescription, SavedModel

#: ONNX Runtime's names for tensor element types, and the numpy type to feed each with.
_INPUT_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
#: Node attributes in which ONNX-ML classifiers and ZipMap store their class labels.
_LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
#: Protobuf field number -> wire type for the top-level fields of ModelProto (onnx.proto).
_MODEL_PROTO_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_HIGHEST_PLAUSIBLE_IR_VERSION = 64


class OnnxFlavor(Flavor):
    """``onnx.ModelProto`` objects and ``.onnx`` files, as one ``.onnx`` file."""

    name = "onnx"
    file_name = "model.onnx"

    def rejection_reason(self, obj: Any) -> str | None:
        if not _is_model_proto(obj):
            return None
        if not obj.graph.node or not obj.graph.output:
            return "the ONNX model has an empty graph (no nodes or no outputs)"
        if _uses_external_data(obj):
            return _EXTERNAL_DATA_MESSAGE
        return None

    def accepts_object(self, obj: Any) -> bool:
        return _is_model_proto(obj) and self.rejection_reason(obj) is None

    def accepts_file(self, path: Path) -> bool:
        if not _starts_like_model_proto(read_head(path, 256)):
            return False
        onnx = installed("onnx")
        if onnx is None:
            # Without the onnx package the header is all there is to go on; load() will then say which
            # extra to install, which is more useful than "not a model".
            return True
        try:
            model = onnx.load_model(str(path), load_external_data=False)
        except Exception:  # protobuf raises DecodeError and friends on anything that is not a ModelProto
            return False
        return bool(model.graph.node) and bool(model.graph.output)

    def save(self, obj: Any, directory: Path) -> SavedModel:
        reason = self.rejection_reason(obj)
        if reason is not None:
            raise InvalidInput(reason)
        if not _is_model_proto(obj):
            raise InvalidInput(f"the onnx format saves onnx.ModelProto objects; got {type(obj).__name__}")
        path = directory / self.file_name
        path.write_bytes(obj.SerializeToString())
        return SavedModel(path=path, metadata=_metadata(obj))

    def load(self, path: Path, metadata: dict[str, Any], *, trust: bool = False) -> LoadedModel:
        onnx = require("onnx", extra="onnx", purpose="loading an ONNX model")
        onnxruntime = require("onnxruntime", extra="onnx", purpose="running an ONNX model")
        content = path.read_bytes()
        proto = _parse(onnx, content, path)
        try:
            session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types per failure kind
            raise InvalidInput(f"ONNX Runtime cannot run '{path.name}': {error}") from error
        return OnnxModel(session, _classes(proto))

    def inspect_file(self, path: Path, *, trust: bool = False) -> dict[str, Any]:
        onnx = require("onnx", extra="onnx", purpose="reading an ONNX model")
        return _metadata(_parse(onnx, path.read_bytes(), path))


class OnnxModel(LoadedModel):
    """An ONNX Runtime session fed from DataFrames or arrays (see the module docstring for the layouts)."""

    flavor = "onnx"

    def __init__(self, session: Any, classes: list[Any] | None) -> None:
        self._session = session
        self._inputs = session.get_inputs()
        self._outputs = session.get_outputs()
        if not self._inputs or not self._outputs:
            raise InvalidInput("the ONNX model has no inputs or no outputs; there is nothing to predict with")
        for node in self._inputs:
            if node.type not in _INPUT_DTYPES:
                raise InvalidInput(
                    f"ONNX input {node.name!r} has type {node.type}, which shipyard cannot feed"
                )
        self._per_column = len(self._inputs) > 1
        if self._per_column:
            for node in self._inputs:
                # Dimensions are ints when fixed, None or a symbolic name (str) when dynamic.
                fixed_width = len(node.shape) == 2 and isinstance(node.shape[1], int) and node.shape[1] != 1
                if len(node.shape) > 2 or fixed_width:
                    raise InvalidInput(
                        f"ONNX input {node.name!r} has shape {node.shape}; a model with several inputs must "
                        "take one column per input, shaped (rows, 1)"
                    )
            self._layout = FeatureLayout(names=[node.name for node in self._inputs])
        else:
            shape = self._inputs[0].shape
            width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
            self._layout = FeatureLayout(count=width)
        self._classes = classes
        second = self._outputs[1] if len(self._outputs) > 1 else None
        self._has_proba = second is not None and (second.type.startswith("seq(map(") or classes is not None)

    @property
    def native(self) -> Any:
        return self._session

    def describe(self) -> ModelDescription:
        label_output = self._outputs[0].type == "tensor(string)"
        is_classifier = self._has_proba or self._classes is not None or label_output
        return ModelDescription(
            task="classification" if is_classifier else "regression",
            classes=self._classes,
            feature_names=self._layout.names,
            n_features=self._layout.count,
        )

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        (predictions,) = self._session.run([self._outputs[0].name], self._feed(data))
        predictions = np.asarray(predictions)
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            return predictions.ravel()
        return predictions

    @property
    def has_proba(self) -> bool:
        return self._has_proba

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if not self._has_proba:
            return super().predict_proba(data)
        (probabilities,) = self._session.run([self._outputs[1].name], self._feed(data))
        if isinstance(probabilities, list):  # ZipMap: one {label: probability} dict per row
            labels = (
                self._classes
                if self._classes is not None
                else list(probabilities[0] if probabilities else [])
            )
            return np.array([[row[label] for label in labels] for row in probabilities], dtype=np.float64)
        return np.asarray(probabilities)

    def _feed(self, data: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        if self._per_column:
            frame = self._layout.frame(data)
            return {
                node.name: _cast(frame[node.name].to_numpy(), node.type).reshape(
                    -1, *([1] * (len(node.shape) - 1))
                )
                for node in self._inputs
            }
        node = self._inputs[0]
        if len(node.shape) != 2:
            # Images, sequences, …: only an array of the input's own rank can be fed, as it is.
            if not isinstance(data, np.ndarray):
                raise InvalidInput(
                    f"ONNX input {node.name!r} has shape {node.shape}; pass a numpy array of that shape"
                )
            return {node.name: _cast(data, node.type)}
        return {node.name: _cast(self._layout.matrix(data), node.type)}


def _cast(values: np.ndarray, onnx_type: str) -> np.ndarray:
    dtype = _INPUT_DTYPES[onnx_type]
    if dtype is object:
        return np.asarray(values).astype(str).astype(object)
    try:
        return np.asarray(values).astype(dtype)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"input values cannot be converted to {onnx_type}: {error}") from error


def _is_model_proto(obj: Any) -> bool:
    onnx = loaded("onnx")
    return onnx is not None and isinstance(obj, onnx.ModelProto)


def _parse(onnx: Any, content: bytes, path: Path) -> Any:
    try:
        proto = onnx.load_model_from_string(content)
    except Exception as error:  # protobuf's DecodeError and friends
        raise InvalidInput(f"'{path.name}' is not a readable ONNX model: {error}") from error
    if _uses_external_data(proto):
        raise InvalidInput(f"'{path.name}': {_EXTERNAL_DATA_MESSAGE}")
    return proto


def _metadata(proto: Any) -> dict[str, Any]:
    return {
        "ir_version": int(proto.ir_version),
        "opsets": {entry.domain or "ai.onnx": int(entry.version) for entry in proto.opset_import},
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
    }


def _classes(proto: Any) -> list[Any] | None:
    """Class labels from ZipMap (the order probabilities come in) or else from a classifier node."""
    from onnx.helper import get_attribute_value

    found: dict[str, list[Any]] = {}
    for node in proto.graph.node:
        for attribute in node.attribute:
            if attribute.name in _LABEL_ATTRIBUTES:
                values = get_attribute_value(attribute)
                labels = [
                    value.decode("utf-8") if isinstance(value, bytes) else int(value) for value in values
                ]
                found.setdefault(node.op_type, labels)
                found.setdefault("", labels)
    return found.get("ZipMap", found.get(""))


def _uses_external_data(proto: Any) -> bool:
    return any(tensor.data_location == 1 for tensor in _tensors(proto.graph))  # 1 = TensorProto.EXTERNAL


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor stored in ``graph``: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _starts_like_model_proto(head: bytes) -> bool:
    """Whether ``head`` opens like a serialized ModelProto: ir_version first, then known fields.

    Serializers write fields in number order, so every ONNX file starts with field 1 (ir_version, a
    varint); a pickle, a zip or a text file fails on its first byte.
    """
    position = 0
    fields: list[int] = []
    while position < len(head):
        key, position = _read_varint(head, position)
        if key is None:
            break
        field, wire_type = key >> 3, key & 7
        if _MODEL_PROTO_FIELDS.get(field) != wire_type:
            return False
        value, position = _read_varint(head, position)
        if value is None:
            break
        if field == 1 and not 1 <= value <= _HIGHEST_PLAUSIBLE_IR_VERSION:
            return False
        fields.append(field)
        if wire_type == 2:
            position += value
    return len(fields) >= 2 and fields[0] == 1


def _read_varint(data: bytes, position: int) -> tuple[int | None, int]:
    value, shift = 0, 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return None, position


_EXTERNAL_DATA_MESSAGE = (
    "the ONNX model keeps tensors in external data files, which shipyard does not follow; save it as one "
    "file with onnx.save_model(model, path, save_as_external_data=False) (models up to 2 GB)"
)
