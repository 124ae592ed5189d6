"""The reports' SVG charts, read as XML: what is drawn, what hovering says, and that text stays text."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

from shipyard.monitoring.charts import Cell, Series, bar_chart, line_chart, verdict_grid

SVG = "{http://www.w3.org/2000/svg}"
STARTS = [datetime(2026, 11, 24, tzinfo=UTC) + timedelta(hours=n) for n in range(6)]


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # well-formed XML, or this raises


def _hovers(root: ElementTree.Element, cls: str | None = None) -> list[str]:
    return [
        str(rect.findtext(f"{SVG}title"))
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None and (cls is None or rect.get("class") == cls)
    ]


def test_a_line_breaks_where_a_window_has_no_value_and_hovering_a_window_lists_its_values() -> None:
    series = [Series("amount", [0.1, 0.2, None, None, 0.4, 0.5]), Series("hour", [None] * 6, 1)]
    root = _parse(line_chart("drift", STARTS, series))
    lines = list(root.iter(f"{SVG}polyline"))
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    hovers = _hovers(root, "hover")
    assert hovers[0] == "2026-11-24 00:00\namount: 0.1"
    assert len(hovers) == 4  # the two windows without any value have nothing to say
    ticks = [text.text for text in root.iter(f"{SVG}text")]
    assert ticks[3:7] == ["0", "0.2", "0.4", "0.6"] and "00:00" in ticks


def test_dense_windows_share_hover_bands_that_give_each_series_range() -> None:
    starts = [STARTS[0] + timedelta(minutes=15 * n) for n in range(1000)]
    values = [float(n % 10) for n in range(1000)]
    root = _parse(line_chart("dense", starts, [Series("psi", values)]))
    hovers = _hovers(root, "hover")
    assert 100 <= len(hovers) < 1000 and hovers[0].splitlines()[1] == "psi: 0 to 5"
    assert not list(root.iter(f"{SVG}circle"))  # no dot per window once dots would touch


def test_a_chart_without_any_value_says_so() -> None:
    root = _parse(line_chart("accuracy", STARTS, [Series("accuracy", [None] * 6)]))
    assert "no value in any window" in [text.text for text in root.iter(f"{SVG}text")]


def test_bars_are_drawn_per_label_and_series_with_their_share_on_hover() -> None:
    series = [Series("reference", [0.5, 0.25, 0.25]), Series("current", [0.1, None, 0.9], 1)]
    root = _parse(bar_chart("channel", ["web", "app", "pos"], series, percent=True))
    assert _hovers(root) == [
        "web — reference: 50%",
        "web — current: 10%",
        "app — reference: 25%",
        "pos — reference: 25%",
        "pos — current: 90%",
    ]
    heights = [
        float(rect.get("height", 0))
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]
    assert heights[4] > heights[0] > heights[1] > 0


def test_the_verdict_grid_draws_each_drift_alone_and_merges_quiet_runs() -> None:
    cells = [Cell("calm", f"c{n}") for n in range(2)] + [Cell("drift", "amount: DRIFT")]
    cells += [Cell("no data", "x"), Cell("no data", "y"), Cell("drift", "again")]
    root = _parse(verdict_grid("verdicts", STARTS, [("amount", cells)]))
    assert _hovers(root) == [
        "amount: no drift in the 2 windows from 2026-11-24 00:00 to 2026-11-24 01:00",
        "amount: DRIFT",
        "amount: no data in the 2 windows from 2026-11-24 03:00 to 2026-11-24 04:00",
        "again",
    ]


def test_names_are_text_never_markup() -> None:
    name = '<script>alert("x")</script> & co'
    svg = bar_chart(name, [name], [Series(name, [1.0])]) + line_chart(name, STARTS, [Series(name, [1.0] * 6)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    _parse(svg.split("</svg>")[0] + "</svg>")
