"""Schedules in the database, run by the scheduler: due occurrences, missed-run policies, one claim each."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy.orm import Session

from shipyard import Registry
from shipyard.cli import main
from shipyard.errors import Conflict, InvalidInput
from shipyard.scheduling import (
    Scheduler,
    add_schedule,
    list_schedules,
    schedule_history,
    start_scheduler_process,
)
from shipyard.store.schema import ScheduleRunRow

T0 = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def home(workspace: Path) -> Path:
    """fraud/1 (on amount and hour) and a Parquet file of 300 rows to score, one of them bad."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(50, 10, 300), "hour": rng.integers(0, 24, 300)})
    with Registry(home=workspace) as registry:
        registry.register("fraud", LogisticRegression().fit(frame, (frame["amount"] > 50).astype(int)))
        registry.set_alias("fraud", "production", 1)
    frame.assign(id=np.arange(300)).to_csv(workspace / "data.csv", index=False)
    text = (workspace / "data.csv").read_text().splitlines()
    text[5] = "oops," + text[5].split(",", 1)[1]
    (workspace / "data.csv").write_text("\n".join(text) + "\n")
    return workspace


def score_args(home: Path) -> list[str]:
    return [
        "score",
        "fraud@production",
        "-i",
        str(home / "data.csv"),
        "-o",
        str(home / "preds" / "{date}-{time}"),
    ]


def test_a_due_score_job_runs_and_its_history_has_status_rows_and_duration(home: Path) -> None:
    with Registry(home=home) as registry:
        add_schedule(registry, "nightly", "0 2 * * *", score_args(home), now=T0)
        [shown] = [schedule.to_dict(T0) for schedule in list_schedules(registry)]
        assert shown["next_run"] == "2026-11-26T02:00:00+00:00"
        scheduler = Scheduler(registry)
        assert scheduler.tick(T0 + HOUR, wait=True) == []  # 01:30: nothing due
        [ran] = scheduler.tick(T0 + 2 * HOUR, wait=True)  # 02:30
        assert ran.moment == datetime(2026, 11, 26, 2, tzinfo=UTC)
        assert scheduler.tick(T0 + 2 * HOUR + timedelta(minutes=5), wait=True) == []  # never twice
        [run] = schedule_history(registry, "nightly")
    assert (run["status"], run["rows"], run["rejected"], run["exit_code"]) == ("succeeded", 300, 1, 0)
    assert run["seconds"] > 0 and run["batch_run"] == "nightly-20261126T0200"
    assert (home / "preds" / "2026-11-26-0200" / "_SUCCESS").is_file()  # {date}-{time} filled in


@pytest.mark.parametrize(
    ("policy", "late", "ran", "missed"),
    [
        ("run_once", timedelta(minutes=10), ["03:00"], ["01:00", "02:00"]),
        ("skip", timedelta(seconds=20), ["03:00"], ["01:00", "02:00"]),
        ("skip", timedelta(minutes=10), [], ["01:00", "02:00", "03:00"]),
        ("run_all", timedelta(minutes=10), ["01:00", "02:00", "03:00"], []),
    ],
)
def test_missed_occurrences_follow_the_declared_policy(
    home: Path, policy: str, late: timedelta, ran: list[str], missed: list[str]
) -> None:
    with Registry(home=home) as registry:
        add_schedule(registry, "hourly", "0 * * * *", ["runs", "--json"], missed=policy, now=T0)
        # The scheduler was down from 00:30 until after 03:00.
        Scheduler(registry).tick(datetime(2026, 11, 26, 3, tzinfo=UTC) + late, wait=True)
        history = schedule_history(registry, "hourly")
    by_status = {
        status: sorted(run["scheduled_for"][11:16] for run in history if run["status"] == status)
        for status in ("succeeded", "missed")
    }
    assert by_status == {"succeeded": ran, "missed": missed}


def test_two_schedulers_never_run_one_occurrence_twice(home: Path) -> None:
    with Registry(home=home) as registry:
        add_schedule(registry, "hourly", "0 * * * *", ["runs", "--json"], now=T0)
    registries = [Registry(home=home) for _ in range(3)]
    schedulers = [Scheduler(registry) for registry in registries]
    barrier = threading.Barrier(len(schedulers))

    def tick(scheduler: Scheduler) -> None:
        barrier.wait()
        scheduler.tick(T0 + HOUR, wait=True)

    threads = [threading.Thread(target=tick, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Registry(home=home) as registry:
        assert [run["status"] for run in schedule_history(registry)] == ["succeeded"]
    for registry in registries:
        registry.close()


def test_an_occurrence_left_running_by_a_dead_scheduler_is_resumed(home: Path) -> None:
    with Registry(home=home) as registry:
        add_schedule(registry, "nightly", "0 2 * * *", score_args(home), now=T0)
        scheduler = Scheduler(registry)
        moment = datetime(2026, 11, 26, 2, tzinfo=UTC)

        def left_running(session: Session) -> None:  # as a scheduler killed mid-run leaves it
            dead = 2**22 + 7  # above Linux's default pid_max: no process has it
            session.add(
                ScheduleRunRow(
                    schedule="nightly", scheduled_for=moment, status="running", host=scheduler.host, pid=dead
                )
            )

        registry.db.write(left_running)
        [resumed] = scheduler.recover()
        assert resumed.moment == moment
        [run] = schedule_history(registry, "nightly")
    assert run["status"] == "succeeded" and run["rows"] == 300


def test_bad_schedules_are_refused_with_the_reason(home: Path) -> None:
    with Registry(home=home) as registry:
        for kwargs, problem in (
            ({"cron": "0 2 * *"}, "not a cron expression"),
            ({"timezone": "Mars/Olympus"}, "unknown time zone"),
            ({"missed": "sometimes"}, "missed-run policy"),
            ({"args": ["serve", "fraud"]}, "cannot be scheduled"),
            ({"args": []}, "needs a command"),
            ({"args": ["score", "-o", "preds/{day}"]}, "unknown placeholder"),
            ({"args": ["scroe"], "commands": {"score"}}, "'scroe' is not a shipyard command"),
        ):
            arguments = {"cron": "0 2 * * *", "args": ["runs"], **kwargs}
            with pytest.raises(InvalidInput, match=problem):
                add_schedule(registry, "s", arguments.pop("cron"), arguments.pop("args"), **arguments)
        add_schedule(registry, "s", "0 2 * * *", ["runs"])
        with pytest.raises(Conflict, match="exists"):
            add_schedule(registry, "s", "0 3 * * *", ["runs"])


def test_schedules_from_the_shell(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")

    def run_json(*args: str) -> object:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    added = [
        "schedule",
        "add",
        "often",
        "--cron",
        "*/5 * * * *",
        "--missed",
        "run_all",
        "--",
        "runs",
        "--json",
    ]
    assert main(added) == 0
    [listed] = run_json("schedule", "list")  # type: ignore[misc]
    assert (listed["command"], listed["missed"], listed["cron"]) == (
        ["runs", "--json"],
        "run_all",
        "*/5 * * * *",
    )
    assert main(["schedule", "pause", "often"]) == 0
    assert run_json("schedule", "list")[0]["next_run"] is None  # type: ignore[index]
    assert main(["schedule", "resume", "often"]) == 0
    assert main(["schedule", "add", "bad", "--cron", "0 2 * * *", "--", "scroe"]) == 2
    assert "'scroe' is not a shipyard command" in capsys.readouterr().err
    assert main(["scheduler", "--once"]) == 0  # nothing due yet: it checks and exits
    assert run_json("schedule", "history") == []
    assert main(["schedule", "remove", "often"]) == 0
    assert main(["schedule", "remove", "often"]) == 3


def test_the_scheduler_beside_a_server_runs_what_is_due(home: Path) -> None:
    with Registry(home=home) as registry:
        add_schedule(registry, "hourly", "0 * * * *", ["runs", "--json"], now=datetime.now(UTC) - 2 * HOUR)
        process = start_scheduler_process(registry.settings, interval=0.5)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not schedule_history(registry, "hourly"):
                time.sleep(0.2)
            while (
                time.monotonic() < deadline and schedule_history(registry, "hourly")[0]["status"] == "running"
            ):
                time.sleep(0.2)
            statuses = [run["status"] for run in schedule_history(registry, "hourly")]
        finally:
            process.terminate()
            process.join(10)
    assert statuses[0] == "succeeded" and set(statuses[1:]) <= {"missed"}  # run_once: the newest runs
