"""Rollouts, alerts, monitors and the run histories through the management API: operators act on what is
running, admins start what moves an alias, everyone reads."""

from __future__ import annotations

from tests.control.conftest import ControlPlane


def test_an_admin_starts_a_rollout_an_operator_pauses_and_aborts_it(control: ControlPlane) -> None:
    with control.client("admin") as admin, control.client("operator") as operator:
        assert admin.put("/api/v1/models/fraud/aliases/trial", json={"version": 1}).status_code == 200
        plan = {"model": "fraud", "alias": "trial", "to": 3, "steps": [10, 100], "reason": "try v3"}
        refused = operator.post("/api/v1/rollouts", json=plan)
        assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]["message"]
        started = admin.post("/api/v1/rollouts", json=plan)
        assert started.status_code == 200, started.text
        rollout = started.json()
        assert (rollout["stable"], rollout["candidate"], rollout["state"]) == (1, 3, "running")
        [active] = operator.get("/api/v1/rollouts", params={"model": "fraud", "active": True}).json()
        assert active["id"] == rollout["id"]
        base = "/api/v1/models/fraud/aliases/trial/rollout"
        paused = operator.post(f"{base}/pause", json={"reason": "lunch"})
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        assert operator.post(f"{base}/promote", json={}).status_code == 403
        assert operator.post(f"{base}/explode", json={}).status_code == 422
        aborted = operator.post(f"{base}/abort", json={"reason": "enough"})
        assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
        again = operator.get(f"/api/v1/rollouts/{rollout['id']}").json()
        assert again["state"] == "aborted"
        bad = admin.post("/api/v1/rollouts", json={"model": "fraud", "alias": "trial", "to": 3, "stpes": [5]})
        assert bad.status_code == 400 and "did you mean 'steps'" in bad.json()["error"]["message"]


def test_an_operator_silences_an_alert_and_a_viewer_may_not(control: ControlPlane) -> None:
    with control.client("operator") as operator, control.client("viewer") as viewer:
        body = {"matchers": {"model": "fraud"}, "duration": "2h", "comment": "deploying"}
        assert viewer.post("/api/v1/alerts/silences", json=body).status_code == 403
        made = operator.post("/api/v1/alerts/silences", json=body)
        assert made.status_code == 200, made.text
        listed = viewer.get("/api/v1/alerts/silences").json()
        assert [entry["id"] for entry in listed] == [made.json()["id"]]
        assert listed[0]["created_by"] == "operator-user"
        wrong = operator.post("/api/v1/alerts/silences", json={"matchers": {"colour": "red"}})
        assert wrong.status_code == 400 and "not on colour" in wrong.json()["error"]["message"]
        assert operator.delete(f"/api/v1/alerts/silences/{made.json()['id']}").status_code == 204
        assert viewer.get("/api/v1/alerts/silences").json() == []
        assert operator.delete("/api/v1/alerts/silences/999").status_code == 404


def test_histories_read_empty_before_anything_ran(control: ControlPlane) -> None:
    with control.client("viewer") as viewer:
        for path in ("/api/v1/alerts", "/api/v1/alerts/history", "/api/v1/schedules", "/api/v1/batch-runs"):
            answer = viewer.get(path)
            assert answer.status_code == 200 and answer.json() == [], path
        assert viewer.get("/api/v1/retrain-runs", params={"model": "fraud"}).json() == []
        assert viewer.get("/api/v1/models/fraud/monitors", params={"window": "1h"}).json() == []
        bad = viewer.get("/api/v1/models/fraud/monitors", params={"window": "soon"})
        assert bad.status_code == 400 and "window" in bad.json()["error"]["message"]
