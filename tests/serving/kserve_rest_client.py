"""Drive a shipyard server with KServe's own REST client (``kserve.InferenceRESTClient``, protocol v2).

Run by tests/serving/test_kserve_client.py with the interpreter of ``.venv-kserve`` (kserve pins pandas < 3
and protobuf < 7, so it cannot share shipyard's environment). Prints one JSON line with what it saw.

    python kserve_rest_client.py BASE_URL MODEL
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


def columns(binary: bool) -> list[InferInput]:
    tensors = []
    for name, values, datatype in (
        ("amount", np.array([42.0, 3.5]), "FP64"),
        ("channel", np.array(["web", "pos"], dtype=np.object_), "BYTES"),
        ("hour", np.array([3, 14], dtype=np.int64), "INT64"),
    ):
        tensor = InferInput(name=name, shape=[2], datatype=datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        tensors.append(tensor)
    return tensors


async def main(base_url: str, model: str) -> dict[str, object]:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    seen: dict[str, object] = {}
    try:
        seen["live"] = await client.is_server_live(base_url)
        seen["ready"] = await client.is_server_ready(base_url)
        seen["model_ready"] = await client.is_model_ready(base_url, model)
        for binary in (False, True):
            request = InferRequest(
                model_name=model, infer_inputs=columns(binary), request_id=f"kserve-{binary}"
            )
            response = await client.infer(base_url, request, model_name=model)
            outputs = {output.name: output.as_numpy().tolist() for output in response.outputs}
            seen[f"infer_binary_{binary}"] = {
                "model_name": response.model_name,
                "id": response.id,
                "outputs": outputs,
            }
        try:
            await client.infer(
                base_url, InferRequest(model_name="fruad", infer_inputs=columns(False)), model_name="fruad"
            )
            seen["unknown_model"] = "no error"
        except Exception as error:  # kserve raises httpx.HTTPStatusError with the server's message
            seen["unknown_model"] = f"{type(error).__name__}: {error}"
    finally:
        await client.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
