"""Limits a request meets before it costs the server anything: more rows than the queue holds are refused
(413) without validating or predicting, and a body of a media type a browser may send cross-site without
asking (text/plain, a form, none at all) is refused (415) on every route that reads one, so no web page can
make a visitor's browser predict or overwrite a label."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from shipyard.errors import PayloadTooLarge
from shipyard.serving.batcher import AdaptiveBatcher
from tests.serving.conftest import Server, start_server, stop_server

ROW = {"amount": 42.0, "channel": "web", "hour": 3}
#: This module's server holds at most this many queued rows (--max-queue-rows).
QUEUE_ROWS = 100


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Server]:
    """One worker with a small queue, so a request over it is small too."""
    running = start_server(workspace, ["fraud@production"], "--max-queue-rows", str(QUEUE_ROWS), workers=1)
    yield running
    stop_server(running)


def columns(rows: int) -> dict[str, list[object]]:
    return {"amount": [42.0] * rows, "channel": ["web"] * rows, "hour": [3] * rows}


def test_a_request_with_more_rows_than_the_queue_holds_is_refused_at_once_with_413(server: Server) -> None:
    rows = QUEUE_ROWS + 1
    tensors = [
        {"name": name, "shape": [rows], "datatype": datatype, "data": values}
        for (name, values), datatype in zip(columns(rows).items(), ("FP64", "BYTES", "INT64"), strict=True)
    ]
    with server.client() as client:
        native = client.post("/v1/models/fraud/predict", json={"columns": columns(rows)})
        oip = client.post("/v2/models/fraud/infer", json={"inputs": tensors})
        fits = client.post("/v1/models/fraud/predict", json={"columns": columns(QUEUE_ROWS)})
    assert native.status_code == 413, native.text[:300]
    message = native.json()["error"]
    assert "101 rows" in message and "at most 100" in message and "--max-queue-rows" in message
    assert "split" in message
    assert oip.status_code == 413 and "--max-queue-rows" in oip.json()["error"]
    assert fits.status_code == 200


def test_the_batcher_refuses_a_request_larger_than_its_queue_without_running_the_model() -> None:
    seen: list[int] = []

    def handler(items: Sequence[int]) -> list[int | BaseException]:
        seen.extend(items)
        return list(items)

    async def scenario() -> int:
        batcher = AdaptiveBatcher(handler, name="bounded", max_queue_rows=100)
        with pytest.raises(PayloadTooLarge, match=r"101 rows.*at most 100"):
            await batcher.submit(1, 101, timeout=5)  # an empty queue used to take anything
        assert batcher.queued_rows == 0
        answer = await batcher.submit(2, 100, timeout=5)
        await batcher.drain()
        return answer

    assert asyncio.run(scenario()) == 2
    assert seen == [2]  # the refused request never reached the model


SIMPLE_REQUESTS = {
    "text/plain": {"content": b'{"records": [{}]}', "headers": {"content-type": "text/plain"}},
    "form": {"data": {"records": "x"}},
    "multipart": {"files": {"records": ("r.json", b"{}", "application/json")}},
    "none": {"content": b"{}"},
}


@pytest.mark.parametrize("kind", SIMPLE_REQUESTS)
def test_native_predict_refuses_what_a_browser_sends_cross_site_with_415(server: Server, kind: str) -> None:
    body = {"records": [ROW]}
    request = dict(SIMPLE_REQUESTS[kind])
    if "content" in request:
        request["content"] = httpx.Request("POST", "/", json=body).content
    with server.client() as client:
        refused = client.post("/v1/models/fraud/predict", **request)  # type: ignore[arg-type]
    assert refused.status_code == 415, refused.text
    assert "application/json" in refused.json()["error"]
    assert "prediction_ids" not in refused.json()


def test_feedback_refuses_text_and_form_posts_and_keeps_the_stored_label(server: Server) -> None:
    with server.client() as client:
        answer = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
        prediction_id = answer.json()["prediction_ids"][0]
        labels = {"labels": [{"prediction_id": prediction_id, "label": 0}]}
        stored = client.post("/v1/feedback", json=labels)
        overwrite = {"labels": [{"prediction_id": prediction_id, "label": 1}]}
        as_text = client.post(
            "/v1/feedback",
            content=httpx.Request("POST", "/", json=overwrite).content,
            headers={"content-type": "text/plain;charset=UTF-8"},  # what fetch() sends for a string body
        )
        as_form = client.post("/v1/feedback", data={"labels": "1", "prediction_id": prediction_id})
        again = client.post("/v1/feedback", json=labels)
    assert stored.status_code == 200 and stored.json()["attached"] == 1, stored.text
    for refused in (as_text, as_form):
        assert refused.status_code == 415
        assert "send Content-Type application/json" in refused.json()["error"]
    assert again.json()["duplicate"] == 1 and again.json()["updated"] == 0  # label 0 was never replaced


def test_each_protocol_keeps_the_media_types_its_clients_send(server: Server) -> None:
    inputs = [
        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [42.0]},
        {"name": "channel", "shape": [1], "datatype": "BYTES", "data": ["web"]},
        {"name": "hour", "shape": [1], "datatype": "INT64", "data": [3]},
    ]
    oip_body = httpx.Request("POST", "/", json={"inputs": inputs}).content
    mlflow_body = httpx.Request("POST", "/", json={"dataframe_records": [ROW]}).content
    with server.client() as client:
        oip = {
            content_type: client.post(
                "/v2/models/fraud/infer",
                content=oip_body,
                headers={"content-type": content_type} if content_type else {},
            ).status_code
            # tritonclient sends none; its asyncio client and KServe's binary requests octet-stream
            for content_type in ("", "application/json", "application/octet-stream", "text/plain")
        }
        mlflow = {
            content_type: client.post(
                "/invocations", content=mlflow_body, headers={"content-type": content_type}
            ).status_code
            for content_type in ("application/json", "application/json; charset=utf-8", "text/plain")
        }
        no_type = client.post("/invocations", content=mlflow_body)
    assert oip == {"": 200, "application/json": 200, "application/octet-stream": 200, "text/plain": 415}
    assert mlflow == {"application/json": 200, "application/json; charset=utf-8": 200, "text/plain": 415}
    assert no_type.status_code == 415 and "application/json or text/csv" in no_type.text


def test_feedback_reads_a_gzip_body_like_the_prediction_routes(server: Server) -> None:
    with server.client() as client:
        answer = client.post("/v1/models/fraud/predict", json={"records": [ROW]})
        prediction_id = answer.json()["prediction_ids"][0]
        labels = httpx.Request("POST", "/", json={"labels": [{"prediction_id": prediction_id, "label": 1}]})
        stored = client.post(
            "/v1/feedback",
            content=gzip.compress(labels.content),
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        unknown = client.post(
            "/v1/feedback",
            content=labels.content,
            headers={"content-type": "application/json", "content-encoding": "br"},
        )
    assert stored.status_code == 200 and stored.json()["attached"] == 1, stored.text
    assert unknown.status_code == 415
