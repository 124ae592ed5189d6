"""The Open Inference Protocol as Triton's own Python client speaks it (binary tensors by default)."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton

from tests.serving.conftest import Server

pytestmark = pytest.mark.slow


def _inputs(binary: bool) -> list[triton.InferInput]:
    columns = {
        "amount": (np.array([42.0, 3.5]), "FP64"),
        "channel": (np.array([b"web", b"pos"], dtype=np.object_), "BYTES"),
        "hour": (np.array([3, 14], dtype=np.int64), "INT64"),
    }
    inputs = []
    for name, (values, datatype) in columns.items():
        tensor = triton.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infers_with_and_without_binary_tensors(server: Server, binary: bool) -> None:
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("fraud")
        metadata = client.get_model_metadata("fraud")
        assert metadata["name"] == "fraud"
        outputs = [
            triton.InferRequestedOutput(name, binary_data=binary) for name in ("predict", "predict_proba")
        ]
        result = client.infer("fraud", _inputs(binary), outputs=outputs)
        labels = result.as_numpy("predict")
        proba = result.as_numpy("predict_proba")
    finally:
        client.close()
    assert labels is not None and labels.shape == (2,) and set(labels.tolist()) <= {0, 1}
    assert proba is not None and proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_tritonclient_sees_a_clear_error_for_an_unknown_model(server: Server) -> None:
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        with pytest.raises(triton.InferenceServerException, match="did you mean 'fraud'"):
            client.infer("fruad", _inputs(True))
    finally:
        client.close()
