"""The Open Inference Protocol as KServe's own REST client speaks it (JSON and binary tensors).

kserve pins pandas < 3 and protobuf < 7, so its client runs in its own environment, ``.venv-kserve``, which
``make test`` creates; the test drives a real server from there over HTTP.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.serving.conftest import Server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
SCRIPT = Path(__file__).with_name("kserve_rest_client.py")


def test_kserve_rest_client_checks_health_and_infers_with_json_and_binary_tensors(server: Server) -> None:
    assert KSERVE_PYTHON.exists(), (
        "KServe's client lives in .venv-kserve: run 'make test' (or 'make kserve-client')"
    )
    completed = subprocess.run(
        [str(KSERVE_PYTHON), str(SCRIPT), server.url, "fraud"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (seen["live"], seen["ready"], seen["model_ready"]) == (True, True, True)
    for binary in (False, True):
        answer = seen[f"infer_binary_{binary}"]
        # kserve's InferResponse.from_bytes keeps no model_version (the other OIP tests check the field).
        assert answer["model_name"] == "fraud"
        assert answer["id"] == f"kserve-{binary}"
        assert set(answer["outputs"]["predict"]) <= {0, 1} and len(answer["outputs"]["predict"]) == 2
        assert all(abs(sum(row) - 1.0) < 1e-9 for row in answer["outputs"]["predict_proba"])
    assert "404" in seen["unknown_model"] and "did you mean 'fraud'" in seen["unknown_model"]
