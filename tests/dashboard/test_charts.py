"""Plotly figures from real stored monitoring windows: each draws what the windows hold, JSON-safe, and is
None when there is nothing to draw yet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.series import StoredWindow
from shipyard.server.dashboard import charts
from shipyard.stats import Profile
from tests.dashboard.monitored import HOUR, START, Monitored

STARTS = [(START + n * HOUR).strftime("%Y-%m-%d %H:%M:%S") for n in range(3)]
TIME_SERIES = (
    charts.request_rate_figure,
    charts.error_rate_figure,
    charts.latency_figure,
    charts.resources_figure,
    charts.drift_figure,
    charts.quality_figure,
    charts.accuracy_figure,
)


def trace(figure: dict[str, Any] | None, name: str) -> dict[str, Any]:
    assert figure is not None
    found = [t for t in figure["data"] if t["name"] == name]
    assert len(found) == 1, f"no single trace {name!r} in {[t['name'] for t in figure['data']]}"
    return found[0]


def names(figure: dict[str, Any] | None) -> list[str]:
    assert figure is not None
    return [t["name"] for t in figure["data"]]


def health(windows: list[StoredWindow], name: str) -> list[float | None]:
    return [window.report["health"][name] for window in windows]


def test_service_figures_draw_each_window_and_leave_a_gap_where_no_request_came(monitored: Monitored) -> None:
    windows = monitored.windows
    rate = trace(charts.request_rate_figure(windows), "requests per second")
    assert rate["x"] == STARTS and rate["y"] == health(windows, "request_rate")
    assert rate["y"][0] == pytest.approx(302 / 3600)  # 300 answered requests and 2 server errors
    errors = charts.error_rate_figure(windows)
    assert trace(errors, "errors (5xx)")["y"] == [pytest.approx(2 / 302), 0.0, None]
    assert errors is not None and errors["layout"]["yaxis"]["tickformat"] == ".1%"
    latency = charts.latency_figure(windows)
    for q in (50, 95, 99):
        assert trace(latency, f"p{q}")["y"] == health(windows, f"latency_p{q}_ms")
    assert trace(latency, "p99")["y"][2] is None and trace(latency, "p50")["y"][0] > 0


def test_cpu_and_memory_share_a_figure_on_two_axes(monitored: Monitored) -> None:
    figure = charts.resources_figure(monitored.windows)
    cpu, memory = trace(figure, "CPU"), trace(figure, "memory")
    assert cpu["y"] == [5.0, None, None]  # 30 s of CPU over 600 s: 5% of a core
    assert memory["y"][0] == 250_000_000 and memory["yaxis"] == "y2"
    assert figure is not None and figure["layout"]["yaxis2"]["overlaying"] == "y"


def test_drift_draws_a_line_per_feature_marks_the_drifted_window_and_the_threshold(
    monitored: Monitored,
) -> None:
    windows = monitored.windows
    figure = charts.drift_figure(windows)
    amount = trace(figure, "amount")
    psi = [
        next(
            (
                c["scores"]["psi"]
                for c in (w.report["drift"] or {"columns": []})["columns"]
                if c["column"] == "amount"
            ),
            None,
        )
        for w in windows
    ]
    assert amount["y"] == psi and amount["y"][1] > 0.2 > amount["y"][0] and amount["y"][2] is None
    assert amount["marker"]["symbol"][:2] == ["circle", "x"]  # drifted in the second hour only
    assert amount["text"][1].startswith("drift: wasserstein")
    assert trace(figure, "channel")["marker"]["symbol"][1] == "circle"
    threshold = trace(figure, "threshold 0.2")
    assert threshold["y"] == [0.2, 0.2] and threshold["x"] == [STARTS[0], STARTS[2]]
    wasserstein = charts.drift_figure(windows, score="wasserstein")
    assert set(names(wasserstein)) == {"amount", "hour", "threshold 0.1"}
    outputs = charts.drift_figure(windows, outputs=True)
    assert set(names(outputs)) >= {"_prediction", "_score"}
    with pytest.raises(InvalidInput, match="psi, wasserstein, jensen_shannon"):
        charts.drift_figure(windows, score="ks")


def test_quality_draws_a_share_per_feature(monitored: Monitored) -> None:
    windows = monitored.windows
    outside = charts.quality_figure(windows, "out_of_range_share")
    amount = trace(outside, "amount")
    assert amount["y"][1] > amount["y"][0] and amount["y"][2] is None
    assert set(names(outside)) == {"amount", "hour"}  # numbers only
    assert trace(charts.quality_figure(windows), "hour")["y"][:2] == [0.0, 0.0]  # nothing missing
    with pytest.raises(InvalidInput, match="missing_rate"):
        charts.quality_figure(windows, "typos")  # type: ignore[arg-type]


def test_accuracy_follows_the_labels_with_their_counts_on_a_second_axis(monitored: Monitored) -> None:
    figure = charts.accuracy_figure(monitored.windows, ["accuracy"])
    accuracy = trace(figure, "accuracy")
    assert accuracy["y"][1] < accuracy["y"][0] - 0.2 and accuracy["y"][2] is None
    labelled = trace(figure, "labelled rows")
    assert labelled["type"] == "bar" and labelled["yaxis"] == "y2" and labelled["y"] == [1500, 600, None]
    every = charts.accuracy_figure(monitored.windows)
    assert {"accuracy", "roc_auc", "f1"} <= set(names(every))


def test_several_versions_get_a_line_each_named_by_version(monitored: Monitored) -> None:
    figure = charts.request_rate_figure(monitored.both)
    newer, older = trace(figure, "requests per second · v2"), trace(figure, "requests per second · v1")
    assert newer["line"]["dash"] == "solid" and older["line"]["dash"] == "dash"
    assert newer["y"][1] == pytest.approx(200 / 5 / 3600)
    assert "labelled rows · v1" in set(names(charts.accuracy_figure(monitored.both)))


def test_a_numeric_feature_is_a_histogram_over_the_reference_bins(monitored: Monitored) -> None:
    reference = Profile.from_dict(monitored.first.profile or {})
    current = monitored.drifted.profile
    figure = charts.distribution_figure("amount", reference, current, current_name="11:00 window")
    before, after = trace(figure, "reference (training)"), trace(figure, "11:00 window")
    for bars in (before, after):
        assert sum(share for _, share in bars["customdata"]) == pytest.approx(1.0)
        assert all(width > 0 for width in bars["width"])
        assert all(
            y * w == pytest.approx(s)
            for y, w, (_, s) in zip(bars["y"], bars["width"], bars["customdata"], strict=True)
        )

    def mean(bars: dict[str, Any]) -> float:
        return sum(x * share for x, (_, share) in zip(bars["x"], bars["customdata"], strict=True))

    assert mean(after) > 2 * mean(before)  # amounts were 4× larger
    assert figure is not None and figure["layout"]["barmode"] == "overlay"


def test_a_categorical_feature_is_bars_per_category_and_other(monitored: Monitored) -> None:
    reference = Profile.from_dict(monitored.first.profile or {})
    figure = charts.distribution_figure("channel", reference, monitored.drifted.profile)
    bars = trace(figure, "current")
    assert bars["x"][-1] == "(other)" and set(bars["x"][:-1]) == {"web", "app", "pos"}
    assert sum(bars["y"]) == pytest.approx(1.0) and bars["y"][-1] == 0.0
    with pytest.raises(NotFound, match="'amout' not found.*did you mean 'amount'"):
        charts.distribution_figure("amout", reference, monitored.drifted.profile)


def test_every_figure_is_strict_json(monitored: Monitored) -> None:
    for windows in (monitored.windows, monitored.both):
        for draw in TIME_SERIES:
            figure = draw(windows)
            assert figure is not None
            assert json.loads(json.dumps(figure, allow_nan=False)) == figure


def test_nothing_to_draw_yet_is_none(monitored: Monitored) -> None:
    empty = [w for w in monitored.windows if w.report["no_data"]]
    assert len(empty) == 1
    for draw in TIME_SERIES:
        assert draw([]) is None
    for draw in (charts.latency_figure, charts.error_rate_figure, charts.resources_figure):
        assert draw(empty) is None
    for draw in (charts.drift_figure, charts.quality_figure, charts.accuracy_figure):
        assert draw(empty) is None
    unlabelled = [w for w in monitored.both if w.version == 2]
    assert charts.accuracy_figure(unlabelled) is None and charts.latency_figure(unlabelled) is not None
    reference = Profile.from_dict(monitored.first.profile or {})
    assert charts.distribution_figure("amount", reference, None) is None
    assert charts.distribution_figure("amount", reference, Profile.empty(reference.layout)) is None


def test_a_feature_without_the_figure_has_no_line(monitored: Monitored) -> None:
    unseen = charts.quality_figure(monitored.windows, "unseen_share")
    assert names(unseen) == ["channel"]  # numbers have no categories
