"""The management API over a real ``shipyard server --auth``: who may read, roll back and promote, what a
bad call is told, and that the audit trail names the person who acted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from shipyard import Registry
from shipyard.access import AccessService, Role
from shipyard.server.control.run import decide_auth, is_loopback
from tests.control.conftest import ControlPlane, start_control_plane, stop


def test_every_call_but_health_needs_a_token(control: ControlPlane) -> None:
    with control.client() as anonymous:
        assert anonymous.get("/health").status_code == 200
        refused = anonymous.get("/api/v1/models")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "shipyard tokens create" in refused.json()["error"]["message"]
        forged = anonymous.get("/api/v1/models", headers={"authorization": "Bearer shy_nope_nothing"})
        assert forged.status_code == 401
        assert anonymous.get("/api/v1/models", headers={"authorization": "Basic abc"}).status_code == 401


def test_a_viewer_reads_but_may_not_roll_back_or_promote(control: ControlPlane) -> None:
    with control.client("viewer") as viewer:
        [model] = viewer.get("/api/v1/models").json()
        assert model["name"] == "fraud"
        assert viewer.get("/api/v1/models/fraud/aliases/production").json()["version"] == 2
        assert [v["version"] for v in viewer.get("/api/v1/models/fraud").json()["versions"]] == [1, 2, 3]
        history = viewer.get("/api/v1/models/fraud/aliases/production/history").json()
        assert [move["version"] for move in history] == [1, 2]
        refused = viewer.post("/api/v1/models/fraud/aliases/production/rollback", json={"reason": "no"})
        assert refused.status_code == 403
        message = refused.json()["error"]["message"]
        assert message.startswith("rollback needs the operator role; viewer-user is a viewer")
        refused = viewer.post("/api/v1/models/fraud/aliases/production/promote", json={"version": 3})
        assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]["message"]
        assert viewer.get("/api/v1/models/fraud/aliases/production").json()["version"] == 2


def test_an_operator_rolls_back_and_the_audit_trail_names_them(control: ControlPlane) -> None:
    with control.client("operator") as operator, control.client("admin") as admin:
        moved = operator.post(
            "/api/v1/models/fraud/aliases/production/rollback", json={"reason": "bad canary"}
        )
        assert moved.status_code == 200, moved.text
        assert (moved.json()["previous_version"], moved.json()["version"]) == (2, 1)
        [event] = operator.get("/api/v1/audit", params={"action": "alias.rollback"}).json()
        assert (event["actor"], event["reason"]) == ("operator-user", "bad canary")
        promotion = "/api/v1/models/fraud/aliases/production/promote"
        unexplained = admin.post(promotion, json={"version": 2, "force": True})
        assert unexplained.status_code == 400 and "reason" in unexplained.json()["error"]["message"]
        promoted = admin.post(promotion, json={"version": 2, "reason": "fixed"})
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["change"]["version"] == 2 and "gate" in promoted.json()
        promotions = admin.get("/api/v1/audit", params={"action": "alias.promote"}).json()
        assert promotions[-1]["actor"] == "admin-user"


def test_bad_calls_are_told_what_is_wrong(control: ControlPlane) -> None:
    with control.client("admin") as admin:
        unknown = admin.get("/api/v1/models/frud")
        assert unknown.status_code == 404 and "did you mean 'fraud'" in unknown.json()["error"]["message"]
        assert admin.get("/api/v1/models/fraud/versions/9").status_code == 404
        wrong = admin.put("/api/v1/models/fraud/aliases/staging", json={"version": "three"})
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "version"]
        extra = admin.put("/api/v1/models/fraud/aliases/staging", json={"version": 3, "colour": "red"})
        assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "colour"]
        broken = admin.put(
            "/api/v1/models/fraud/aliases/staging",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 422
        assert admin.get("/api/v1/audit", params={"limit": 0}).status_code == 422
        assert admin.put("/api/v1/models/fraud/aliases/staging", json={"version": 3}).status_code == 200
        assert admin.get("/api/v1/models/fraud/aliases/staging").json()["version"] == 3


def test_revoked_and_expired_tokens_stop_working(control: ControlPlane) -> None:
    with Registry(home=control.home, actor="tests") as registry:
        access = AccessService(registry.db, registry.actor)
        access.create_user("leaver", Role.OPERATOR)
        revoked = access.issue_token("leaver", "laptop")
        expired = access.issue_token("leaver", "short", expires=timedelta(microseconds=1))
        with httpx.Client(base_url=control.url, timeout=30) as client:
            bearer = {"authorization": f"Bearer {revoked.secret}"}
            assert client.get("/api/v1/models", headers=bearer).status_code == 200
            access.revoke_token(revoked.id)
            answer = client.get("/api/v1/models", headers=bearer)
            assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
            answer = client.get("/api/v1/models", headers={"authorization": f"Bearer {expired.secret}"})
            assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_the_openapi_document_describes_every_route(control: ControlPlane) -> None:
    with control.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
    paths = document["paths"]
    assert {"/api/v1/models", "/api/v1/models/{name}/aliases/{alias}/rollback", "/api/v1/audit"} <= set(paths)
    assert set(paths["/api/v1/models/{name}/aliases/{alias}"]) == {"delete", "get", "put"}
    rollback = paths["/api/v1/models/{name}/aliases/{alias}/rollback"]["post"]
    assert rollback["summary"] and "requestBody" in rollback


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_loopback_is_told_apart(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_auth_is_on_off_loopback_and_cannot_be_turned_off_there() -> None:
    assert decide_auth("127.0.0.1", None) is False and decide_auth("127.0.0.1", True) is True
    assert decide_auth("0.0.0.0", None) is True
    with pytest.raises(Exception, match="without auth"):
        decide_auth("0.0.0.0", False)


def test_a_body_past_the_upload_limit_is_refused_before_it_is_stored(control: ControlPlane) -> None:
    url, process = start_control_plane(control.home, "--max-upload-mb", "1")
    try:
        headers = {"authorization": f"Bearer {control.tokens['operator']}"}
        big = b"0" * (1024 * 1024 + 1)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            declared = client.post("/api/v1/models/huge/versions", files={"file": ("model.skops", big)})
            assert declared.status_code == 413
            assert "this server accepts at most 1,048,576" in declared.json()["error"]["message"]

            def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
                yield (
                    b'--abc\r\nContent-Disposition: form-data; name="file"; filename="model.skops"\r\n'
                    b"Content-Type: application/octet-stream\r\n\r\n"
                )
                for _ in range(3):
                    yield b"x" * 512 * 1024

            streamed = client.post(
                "/api/v1/models/huge/versions",
                content=chunks(),
                headers={"content-type": "multipart/form-data; boundary=abc"},
            )
            assert streamed.status_code == 413 and "over 1,048,576 bytes" in streamed.text
            assert client.get("/api/v1/models").status_code == 200
    finally:
        stop(process)
    with Registry(home=control.home) as registry:
        assert "huge" not in {model.name for model in registry.list_models()}
