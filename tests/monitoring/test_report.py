"""The drift report (HTML and JSON) and the monitoring tables: per-window verdicts first, pooled second.

The HTML is opened in a real headless Chromium: its charts are inline SVG, so they must be drawn from the
file alone, with no script and nothing fetched.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard import Registry
from shipyard.cli import main
from shipyard.predictions import LogWriter
from shipyard.registry import ModelVersion
from tests.models import tiny_classifier, transactions
from tests.served import served_record
from tests.serving.conftest import FEATURES

HOUR = timedelta(hours=1)
HOURS = 8
DRIFTING_HOUR = 5
#: The report must stay small: the size of 402 rows' report with plotly.js embedded was 4.9 MB.
MAX_REPORT_BYTES = 1_000_000


def _serve(
    registry: Registry, version: ModelVersion, frame: pd.DataFrame, at: datetime, writer: LogWriter
) -> None:
    """Log ``frame`` as the server would: requests of 5 rows at ``at``, answered by the model."""
    model = registry.load_model(version.ref)
    for first in range(0, len(frame), 5):
        writer.submit(served_record(model, version, frame.iloc[first : first + 5].reset_index(drop=True), at))


@dataclass(frozen=True)
class Logged:
    home: Path
    start: datetime  # eight hours of traffic like training's, but the sixth moves every feature


@pytest.fixture(scope="module")
def one_window_drifts(trained: tuple[Path, ModelVersion]) -> Logged:
    """Eight hours of 400 rows each; in one hour every feature moves (amounts doubled, no web channel, no
    afternoon), so strongly that its p-values are ~0, yet pooled with the calm hours only amount drifts."""
    home, version = trained
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 10 * HOUR
    with Registry(home=home) as registry:
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        for hour in range(HOURS):
            frame = transactions(rows=400, seed=100 + hour)[FEATURES]
            if hour == DRIFTING_HOUR:
                channel = np.where(np.arange(len(frame)) % 2 == 0, "app", "pos")
                frame = frame.assign(amount=frame["amount"] * 2, channel=channel, hour=frame["hour"] % 12)
            _serve(registry, version, frame, start + hour * HOUR + timedelta(minutes=10), writer)
        writer.close()
    return Logged(home, start)


def _report(logged: Logged, output: Path, capsys: pytest.CaptureFixture[str]) -> str:
    since, until = logged.start.isoformat(), (logged.start + HOURS * HOUR).isoformat()
    assert (
        main(["report", "drift", "fraud/1", "--from", since, "--to", until, "-w", "1h", "-o", str(output)])
        == 0
    )
    return capsys.readouterr().out


def test_the_headline_names_the_one_drifting_window_which_the_pooled_range_hides(
    one_window_drifts: Logged,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(one_window_drifts.home))
    monkeypatch.setenv("COLUMNS", "250")
    drifting = (one_window_drifts.start + DRIFTING_HOUR * HOUR).strftime("%Y-%m-%d %H:%M")
    printed = _report(one_window_drifts, tmp_path / "report.json", capsys)
    lines = [line for line in printed.splitlines() if line.strip()]
    assert lines[1] == f"Dataset drift in 1 of {HOURS} windows (1h): {drifting} (amount, channel, hour)."
    assert lines[-1].startswith("Pooled over the whole range (3,200 rows compared as one window")
    # pooled, the dataset drift vanishes: 1 feature of 3 is below the dataset's share of 0.5
    assert lines[-1].endswith("drifted features: amount; dataset drift: no.")

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["headline"][0] == lines[1]
    verdicts = report["verdicts"]
    assert [window["start"][11:16] for window in verdicts["dataset_drift_windows"]] == [drifting[11:]]
    assert verdicts["windows_with_data"] == HOURS
    assert verdicts["drifting_windows_per_feature"] == {"amount": 1, "channel": 1, "hour": 1}
    assert [v["verdict"] for v in verdicts["per_window"]].count("dataset drift") == 1
    assert report["pooled"]["drift"]["drifted"] is False
    assert list(report)[:6] == ["model", "version", "start", "end", "window", "headline"]
    assert set(report["distributions"]) == set(FEATURES)
    channel = report["distributions"]["channel"]
    assert channel["labels"][-1] == "(other)"
    shown = channel["most_drifted_window"]
    assert shown["start"][11:16] == drifting[11:] and shown["shares"][channel["labels"].index("web")] == 0.0

    page = tmp_path / "report.html"
    _report(one_window_drifts, page, capsys)
    text = page.read_text()
    assert text.index('id="headline"') < text.index('id="pooled"') < text.index('id="windows"')
    assert f"Dataset drift in 1 of {HOURS} windows" in text.split('id="pooled"')[0]
    assert text.count('<tr class="drift">') == 1

    since, until = one_window_drifts.start.isoformat(), (one_window_drifts.start + HOUR).isoformat()
    assert main(["report", "drift", "fraud/1", "--from", until, "--to", since, "-o", str(page)]) == 2


@pytest.mark.parametrize(
    ("first", "last", "headline"),
    [
        (-2, 3, "No drift in any of the 3 windows (1h; 2 more without data)."),
        (4, 5, "No drift in the one window (1h)."),
        (-3, -1, "No data: none of the 2 windows (1h) logged a request."),
    ],
)
def test_the_headline_of_a_calm_or_empty_range_says_so(
    one_window_drifts: Logged,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: int,
    last: int,
    headline: str,
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(one_window_drifts.home))
    since, until = (one_window_drifts.start + first * HOUR), (one_window_drifts.start + last * HOUR)
    output = tmp_path / "report.json"
    command = ["report", "drift", "fraud/1", "--from", since.isoformat(), "--to", until.isoformat()]
    assert main([*command, "-o", str(output)]) == 0
    assert json.loads(output.read_text())["headline"][0] == headline
    assert headline in capsys.readouterr().out


def test_the_html_report_is_small_self_contained_and_draws_its_charts_in_a_browser(
    one_window_drifts: Logged,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(one_window_drifts.home))
    page = tmp_path / "report.html"
    printed = _report(one_window_drifts, page, capsys)
    size = page.stat().st_size
    assert size < MAX_REPORT_BYTES and f"({size:,} bytes)" in printed
    text = page.read_text()
    # Nothing to fetch and nothing to run: no script, no external resource of any kind.
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"""(src|href)\s*=|url\(""", text)

    checked = _rendered_check(page)
    assert checked["errors"] == []
    charts = checked["charts"]
    names = {chart["title"] for chart in charts}
    # the verdict grid, 3 distributions, PSI, 3 quality, 2 service, 2 accuracy
    assert len(charts) == 12 and all(chart["width"] > 300 and chart["height"] > 100 for chart in charts)
    assert all(chart["marks"] > 0 for chart in charts if "labels arrived" not in chart["title"]), charts
    assert "drift verdict per window (hover a cell for its scores)" in names
    grid = next(chart for chart in charts if chart["title"].startswith("drift verdict"))
    # the legend's 5 keys, then per row (the dataset, 3 features): 5 calm windows as one, the drift, 2 calm
    assert grid["marks"] == 5 + 4 * 3
    calm = (one_window_drifts.start + HOUR * (DRIFTING_HOUR - 1)).strftime("%Y-%m-%d %H:%M")
    assert any(text.startswith("hour: no drift in the 5 windows from ") for text in checked["hover"])
    assert any(text.endswith(f" to {calm}") for text in checked["hover"])
    assert any(name.startswith("amount — pooled:") for name in names)
    assert checked["hover"] and any("DRIFT — ks p-value" in text for text in checked["hover"])


_CHECK = """<script>
const errors = [];
addEventListener("error", event => errors.push(String(event.message)));
addEventListener("load", () => {
  const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll("rect, polyline, circle")].filter(mark => {
      const size = mark.getBBox();
      return (size.width > 0 || size.height > 0) && !mark.classList.contains("hover");
    }).length;
    return {title: svg.querySelector("title").textContent, width: box.width, height: box.height, marks};
  });
  const hover = [...document.querySelectorAll("svg.chart rect > title")].map(title => title.textContent);
  const out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify({charts, hover, errors});
  document.body.append(out);
});
</script>"""


def _rendered_check(page: Path) -> dict[str, Any]:
    """Open a copy of ``page`` in headless Chromium, the network closed, with a script that measures what
    was drawn: each SVG chart's size on screen and its marks (bars, lines, dots with an area)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, (
        "Chromium is needed for the report test: 'make test' installs it (apt-get install chromium)"
    )
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", _CHECK + "</body>"))
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing can be fetched
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = re.search(r'<pre id="check">(.*?)</pre>', completed.stdout, re.S)
    assert found, completed.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_monitor_tables_say_why_drift_is_not_computed_and_what_to_do(
    trained: tuple[Path, ModelVersion],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, _ = trained
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    with Registry(home=home) as registry:
        version = registry.register("plain", tiny_classifier())  # no reference profile
        frame = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=["a", "b", "c"])
        writer = LogWriter(registry.settings.log_url, flush_seconds=60)
        _serve(registry, version, frame, start + timedelta(minutes=5), writer)
        writer.close()
    since, until = start.isoformat(), (start + 2 * HOUR).isoformat()
    hint = (
        "plain/1 has no reference profile: register it with --reference or run "
        "`shipyard profile build plain/1 DATA`"
    )

    assert main(["monitor", "run", "plain/1", "--from", since, "--to", until, "-w", "1h"]) == 0
    ran = capsys.readouterr().out
    assert "n/a — plain/1 has no reference profile" in ran and ran.count(hint) == 1
    assert main(["monitor", "show", "plain/1", "-w", "1h"]) == 0
    shown = capsys.readouterr().out
    assert "n/a — plain/1 has no reference profile" in shown and shown.count(hint) == 1
    assert shown.count("n/a") == 1  # the window without data says "no data", not n/a
    report = tmp_path / "report.json"
    assert main(["report", "drift", "plain/1", "--from", since, "--to", until, "-o", str(report)]) == 0
    headline = json.loads(report.read_text())["headline"]
    assert headline[0] == f"Drift not computed in the one window (1h; 1 more without data): {hint}."
    assert headline[-1].endswith(f"drift not computed, {hint}.")
    capsys.readouterr()

    # Following the hint: the stored windows predate the profile, and the table now says how to redo them.
    reference = tmp_path / "reference.csv"
    pd.DataFrame(np.random.default_rng(1).normal(size=(200, 3)), columns=["a", "b", "c"]).to_csv(
        reference, index=False
    )
    assert main(["profile", "build", "plain/1", str(reference)]) == 0
    capsys.readouterr()
    assert main(["monitor", "show", "plain/1", "-w", "1h"]) == 0
    again = re.search(
        r"plain/1 has a reference profile now, .*: compute them again with `(.*)`", capsys.readouterr().out
    )
    assert again, "monitor show should say how to compute the windows again"
    assert main(again.group(1).split()[1:]) == 0
    capsys.readouterr()
    assert main(["monitor", "show", "plain/1", "-w", "1h"]) == 0
    shown = capsys.readouterr().out
    assert "n/a" not in shown and "reference profile" not in shown
