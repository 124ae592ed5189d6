"""The dashboard's alerts, rollouts, batch and audit sections, and the version page's distributions, against a
live control plane with auth on: what each page shows with data and without, who may silence an alert or
steer a rollout from them, and hostile text that stays text.

The busy workspace is the monitored one (tests/dashboard/monitored.py) with, on top: an alert firing
(evaluated by the real evaluator), a silence, a rollout that failed its analyses and one still running
(both with a ``<script>`` reason), a batch run, a schedule with a missed run and a retraining run.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from shipyard import Registry, rollouts
from shipyard.access import AccessService, Role
from shipyard.alerts import AlertEvaluator, load_alerts, silence, silences
from shipyard.batch import score_batch
from shipyard.config import CONFIG_FILE, load_settings
from shipyard.predictions import PredictionLog
from shipyard.rollouts import Analysis, CheckResult
from shipyard.rollouts.verdict import ab_verdict
from shipyard.scheduling.schedules import add_schedule
from shipyard.server.control.app import create_control_app
from shipyard.store.retrain_runs import RetrainRunRepository
from shipyard.store.rollouts import RolloutRepository
from shipyard.store.schedules import ScheduleRepository
from tests.dashboard.live import serving
from tests.dashboard.monitored import HOUR, START, Monitored
from tests.models import transactions
from tests.serving.conftest import FEATURES

HOSTILE = "<script>window.pwned = 1</script>"
USERS = {"viewer": Role.VIEWER, "operator": Role.OPERATOR, "admin": Role.ADMIN}
RULES = """
[alerts.defaults]
enabled = false
[[alerts.rules]]
name = "slow"
model = "fraud@production"
figure = "health.latency_p99_ms"
above = 1
for = "0m"
severity = "critical"
"""


@dataclass
class Server:
    url: str
    home: Path
    running: int = 0  # the rollout left running on fraud@production
    failed: int = 0  # the rollout that failed its analyses on fraud@staging


def password(user: str) -> str:
    return f"{user}-password-1"


@contextmanager
def control_plane(home: Path) -> Iterator[str]:
    """``home``'s control plane with auth on, served on 127.0.0.1 (in a thread: quicker than a process)."""
    with serving(create_control_app(load_settings(home, environ={}), auth=True)) as url:
        yield url.rstrip("/")


def add_users(registry: Registry) -> None:
    access = AccessService(registry.db, registry.actor)
    for user, role in USERS.items():
        access.create_user(user, role, password=password(user))


def fill(registry: Registry, server: Server) -> None:
    """Everything the operations pages list, made by the services that make it in production."""
    registry.set_alias("fraud", "production", 2, reason="second release")
    for alias in ("staging", "canary", "trial"):
        registry.set_alias("fraud", alias, 1, reason=f"{alias} starts on v1")
    (registry.settings.home / CONFIG_FILE).write_text(RULES, encoding="utf-8")
    AlertEvaluator(registry, load_alerts(registry.settings, registry)).evaluate(
        START + HOUR + timedelta(minutes=30)
    )
    now = datetime.now(UTC)
    silence(registry, {"rule": "nightly-drift"}, now, now + timedelta(hours=2), comment=HOSTILE)
    plan = {
        "model": "fraud",
        "alias": "staging",
        "to": 2,
        "steps": [10, 100],
        "interval": "1m",
        "min_requests": 1,
    }
    failed = rollouts.start(registry, plan, reason=f"staging try {HOSTILE}")
    for minutes in (2, 5):  # no traffic in the log now: the analyses find too little and it fails
        rollouts.advance(registry, PredictionLog(registry.settings.log_url), now + timedelta(minutes=minutes))
    running = rollouts.start(registry, {"model": "fraud", "to": 1, "steps": [10, 50, 100]}, reason=HOSTILE)
    server.running, server.failed = running.id, failed.id
    judged = ab_verdict(
        0.95,
        stable_requests=1000,
        stable_errors=30,
        candidate_requests=1000,
        candidate_errors=5,
        stable_labelled=500,
        stable_correct=400,
        candidate_labelled=500,
        candidate_correct=450,
    )
    passed = CheckResult("error_rate", 0.005, 0.01, True, "candidate 0.5% of requests failed, stable 3.0%")
    analysis = Analysis("pass", [passed], {}, judged).to_dict()
    RolloutRepository(registry.db, registry.actor).record_analysis(
        running.id, 0, analysis
    )  # as the controller does
    inputs = registry.settings.home / "inputs.parquet"
    transactions(rows=40)[FEATURES].to_parquet(inputs)
    score_batch(registry, "fraud@production", [str(inputs)], str(registry.settings.home / "scored"))
    add_schedule(registry, "nightly", "0 2 * * *", ["batch", "fraud@production", "inputs.parquet"], now=START)
    missed = [START + timedelta(hours=2)]
    ScheduleRepository(registry.db).claim_occurrences(
        "nightly", missed, [], host="h", missed_detail="scheduler down"
    )
    runs = RetrainRunRepository(registry.db, registry.actor)
    run = runs.begin("fraud", "manual")
    runs.step(run.id, "rollout", {"candidate": "fraud/1", "rollout": failed.id})
    runs.finish(run.id, "succeeded", f"fraud/1 passed its gate; rollout {failed.id} started")


@pytest.fixture(scope="module")
def busy(monitored: Monitored, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("operations") / "ws"
    shutil.copytree(monitored.home, home)
    server = Server("", home)
    with Registry(home=home, actor="tests") as registry:
        add_users(registry)
        fill(registry, server)
    with control_plane(home) as url:
        server.url = url
        yield server


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("operations-empty") / "ws"
    with Registry(home=home, actor="tests") as registry:
        add_users(registry)
    with control_plane(home) as url:
        yield Server(url, home)


@contextmanager
def signed_in(server: Server, user: str) -> Iterator[httpx.Client]:
    """A client holding ``user``'s session cookie, as a browser would after the sign-in form."""
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        answer = client.post("/login", data={"username": user, "password": password(user)})
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(page: Page, server: Server, user: str, path: str) -> None:
    page.goto(f"{server.url}{path}")
    page.fill("#username", user)
    page.fill("#password", password(user))
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}{path}")


# -- reading ----------------------------------------------------------------------------------------------
def test_the_operations_pages_show_what_runs_production(busy: Server) -> None:
    escaped = html.escape(HOSTILE, quote=False)
    with signed_in(busy, "viewer") as viewer:
        alerts = viewer.get("/alerts").text
        assert re.search(r"firing</td>\s*<td>critical</td>\s*<td class=\"mono\">slow</td>", alerts)
        assert "value &gt; 1" in alerts and 'id="history"' in alerts and "log ✓" in alerts
        assert "rule=nightly-drift" in alerts and escaped in alerts
        assert (
            'id="silence-form"' not in alerts
            and "end-silence" not in alerts
            and "silence-alert" not in alerts
        )  # a viewer changes nothing

        listed = viewer.get("/rollouts").text
        active = listed.split('id="active"')[1].split('id="recent"')[0]
        assert (
            f'href="/rollouts/{busy.running}"' in active and f'href="/rollouts/{busy.failed}"' not in active
        )
        assert "v2 → v1" in active and "10%" in active and escaped in active
        assert re.search(rf'/rollouts/{busy.failed}">#{busy.failed}</a>.*?failed', listed, re.S)

        failed = viewer.get(f"/rollouts/{busy.failed}").text
        assert "not_enough_data" in failed and "prediction_drift" in failed and "no data" in failed
        assert "stable has 0 and candidate has 0" in failed and 'id="controls"' not in failed
        assert '<th>interval</th><td class="mono">1m</td>' in failed and "10% → 100%" in failed
        running = viewer.get(f"/rollouts/{busy.running}").text
        assert "An operator can pause" in running and 'id="pause"' not in running
        verdict = running.split('id="verdict"')[1].split("</div>")[0]
        assert "candidate better" in verdict and "95% confidence" in verdict and "accuracy" in verdict
        assert "(30/1000)" in verdict and "(5/1000)" in verdict
        assert "candidate 0.5% of requests failed, stable 3.0%" in running

        batch = viewer.get("/batch").text
        assert "succeeded" in batch and "fraud/2" in batch and ">40<" in batch
        assert "0 2 * * * (UTC)" in batch and "scheduler down" in batch and "missed" in batch
        assert f'href="/rollouts/{busy.failed}">#{busy.failed}</a>' in batch and "fraud/1" in batch

        audit = viewer.get("/audit").text
        assert "rollout.start" in audit and "alias.set" in audit and escaped in audit
    assert HOSTILE not in alerts + listed + failed + batch + audit


def test_each_page_says_so_when_there_is_nothing_to_show(empty: Server) -> None:
    with signed_in(empty, "viewer") as viewer:
        pages = {path: viewer.get(path) for path in ("/alerts", "/rollouts", "/batch", "/audit")}
    assert all(answer.status_code == 200 for answer in pages.values())
    assert "No alert is pending or firing." in pages["/alerts"].text
    assert "No silence is in force." in pages["/alerts"].text
    assert "No alert has changed state yet." in pages["/alerts"].text
    assert "No rollout is running or paused." in pages["/rollouts"].text
    assert "No rollout yet." in pages["/rollouts"].text
    for empty_state in ("runs-empty", "schedules-empty", "occurrences-empty", "retraining-empty"):
        assert f'id="{empty_state}"' in pages["/batch"].text
    assert "user.create" in pages["/audit"].text  # the users made for this test are all it holds
    with signed_in(empty, "viewer") as viewer:
        filtered = viewer.get("/audit", params={"model": "nothing-here"}).text
    assert "No audit event matches this filter." in filtered


def test_the_audit_filter_keeps_one_model_and_an_action_prefix(busy: Server) -> None:
    with signed_in(busy, "viewer") as viewer:
        page = viewer.get("/audit", params={"model": "fraud", "action": "rollout."}).text
    rows = re.findall(r'<td class="mono">(rollout\.[a-z_]+|[a-z_]+\.[a-z_.]+)</td>', page)
    assert rows and all(action.startswith("rollout.") for action in rows)
    assert "rollout.start" in rows and 'value="rollout."' in page


def test_the_version_page_draws_reference_against_the_newest_window(busy: Server) -> None:
    with signed_in(busy, "viewer") as viewer:
        current = viewer.get("/models/fraud/versions/1").text
        idle = viewer.get("/models/fraud/versions/1", params={"window": "5m"}).text
    assert "the newest monitored window with traffic, 2026-03-02 11:00–12:00 UTC" in current
    assert 'id="distribution-1"' in current and "amount: reference against 2026-03-02 11:00" in current
    assert (
        'id="distribution-3"' in current and 'id="distribution-4"' not in current
    )  # the target is no feature
    assert "No monitored traffic for fraud/1 yet" in idle
    assert "amount: reference (training)" in idle and "against" not in idle.split("Feature distributions")[1]


# -- who may change what ----------------------------------------------------------------------------------
def test_a_viewer_is_refused_every_change_and_only_an_admin_promotes(busy: Server) -> None:
    with signed_in(busy, "viewer") as viewer:
        token = csrf_of(viewer.get("/alerts").text)  # the viewer's own, valid token: the role refuses
        for path in ("/alerts/silences", "/alerts/silences/1/end", f"/rollouts/{busy.running}/pause"):
            refused = viewer.post(path, data={"rule": "slow", "csrf_token": token})
            assert refused.status_code == 403 and "needs the operator role" in refused.text, path
    with Registry(home=busy.home, actor="tests") as registry:
        trial = rollouts.start(registry, {"model": "fraud", "alias": "trial", "to": 2}, reason="try v2")
    with signed_in(busy, "operator") as operator:
        token = csrf_of(operator.get(f"/rollouts/{trial.id}").text)
        assert 'id="promote"' not in operator.get(f"/rollouts/{trial.id}").text
        refused = operator.post(f"/rollouts/{trial.id}/promote", data={"csrf_token": token})
        assert refused.status_code == 403 and "needs the admin role" in refused.text
        forged = operator.post(f"/rollouts/{trial.id}/pause", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        form = {"rule": "slow", "duration": "soon", "csrf_token": token}
        wrong = operator.post("/alerts/silences", data=form)
        assert wrong.status_code == 400 and "like 30s, 15m, 1h or 1d" in wrong.text
        nothing = operator.post("/alerts/silences", data={**form, "rule": "", "duration": "1h"})
        assert nothing.status_code == 400 and "needs a rule or a model" in nothing.text
    with signed_in(busy, "admin") as admin:
        page = admin.get(f"/rollouts/{trial.id}").text
        assert 'id="promote"' in page
        done = admin.post(
            f"/rollouts/{trial.id}/promote", data={"csrf_token": csrf_of(page), "reason": "good"}
        )
        assert done.status_code == 303 and "/rollouts/" in done.headers["location"]
        again = admin.post(f"/rollouts/{trial.id}/abort", data={"csrf_token": csrf_of(page)})
        assert again.status_code == 409 and "promoted already" in again.text
    with Registry(home=busy.home) as registry:
        assert registry.resolve("fraud@trial").version == 2
        assert registry.audit(action="rollout.promote")[-1].actor == "admin"


# -- in a browser -----------------------------------------------------------------------------------------
def test_an_operator_silences_an_alert_and_ends_the_silence(page: Page, busy: Server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, busy, "operator", "/alerts")
    expect(page.locator("#current")).to_contain_text("slow")
    expect(page.locator("#silences .comment").first).to_have_text(HOSTILE)  # text, not a script
    page.click("#current a.silence-alert")  # the alert's link fills in its rule and model
    expect(page.locator("#silence-rule")).to_have_value("slow")
    expect(page.locator("#silence-model")).to_have_value("fraud")
    page.fill("#silence-model", "")
    page.fill("#silence-duration", "2h")
    page.fill("#silence-comment", f"deploying the fix {HOSTILE}")
    page.click("#add-silence")
    expect(page.locator(".flash")).to_contain_text("holds back rule slow until")
    mine = page.locator("#silences tr", has_text="rule=slow")
    expect(mine).to_contain_text(f"deploying the fix {HOSTILE}")
    expect(mine).to_contain_text("operator")
    mine.locator("button.end-silence").click()
    expect(page.locator(".flash")).to_contain_text("ended")
    expect(page.locator("#silences tr", has_text="rule=slow")).to_have_count(0)
    assert dialogs == [] and page.evaluate("window.pwned") is None
    with Registry(home=busy.home) as registry:
        [made] = [
            entry for entry in silences(registry, include_ended=True) if entry["created_by"] == "operator"
        ]
        assert made["matchers"] == {"rule": "slow"} and made["comment"] == f"deploying the fix {HOSTILE}"
        assert made["id"] not in [entry["id"] for entry in silences(registry)]  # ended


def test_an_operator_pauses_and_aborts_a_rollout_then_finds_it_in_the_audit(page: Page, busy: Server) -> None:
    with Registry(home=busy.home, actor="tests") as registry:
        canary = rollouts.start(registry, {"model": "fraud", "alias": "canary", "to": 2}, reason="canary v2")
    sign_in(page, busy, "operator", f"/rollouts/{canary.id}")
    expect(page.locator("#state")).to_have_text("running")
    expect(page.locator("#promote")).to_have_count(0)  # an admin's button
    page.fill("#reason", "lunch")
    page.click("#pause")
    expect(page.locator(".flash")).to_have_text(f"Rollout {canary.id} is paused")
    expect(page.locator("#state")).to_have_text("paused")
    expect(page.locator("#resume")).to_be_visible()
    page.fill("#reason", "errors on v2")
    page.click("#abort")
    expect(page.locator(".flash")).to_have_text(f"Rollout {canary.id} is aborted")
    expect(page.locator("#controls")).to_have_count(0)
    page.click("header nav >> text=Audit")
    page.fill("#audit-action", "rollout.")
    page.click("#filter")
    expect(page).to_have_url(re.compile(r"/audit\?model=&action=rollout\.$"))
    newest = page.locator("#audit tbody tr").first
    expect(newest).to_contain_text("rollout.abort")
    expect(newest).to_contain_text("operator")
    expect(newest).to_contain_text("errors on v2")
    with Registry(home=busy.home) as registry:
        assert rollouts.get(registry, canary.id).state == "aborted"
