"""Pages escape what they show, and a chart's figure cannot break out of the element that carries it."""

from __future__ import annotations

import html
import json
import re

import pytest
from jinja2 import UndefinedError

from shipyard.errors import InvalidInput
from shipyard.server.dashboard.templates import chart, environment, figure_json, render

HOSTILE = "<script>alert(1)</script>"
PAGE = environment().from_string(
    '{% extends "base.html" %}{% block main %}'
    '<h1>{{ model }}</h1>{{ chart(figure, "latency") }}'
    "{% endblock %}"
)


def figure_of(page: str, element_id: str) -> object:
    found = re.search(rf'<script type="application/json" id="{element_id}-figure">(.*?)</script>', page, re.S)
    assert found, f"no figure for {element_id}"
    return json.loads(found.group(1))


def test_a_model_name_is_shown_as_text_never_markup() -> None:
    page = PAGE.render(workspace=HOSTILE, user='"><img src=x onerror=alert(1)>', model=HOSTILE, figure=None)
    assert HOSTILE not in page and "<img" not in page
    assert page.count(html.escape(HOSTILE)) == 3  # the heading, the title and the header
    assert "&#34;&gt;&lt;img" in page


def test_a_label_holding_a_closing_script_tag_stays_inside_the_figure() -> None:
    figure = {
        "data": [{"type": "scatter", "name": f"</script>{HOSTILE}<!--", "x": [1], "y": [2]}],
        "layout": {},
    }
    page = PAGE.render(workspace="ws", user="ann", model="fraud", figure=figure)
    assert page.count("</script>") == 3  # the two static scripts' and the figure's own
    assert "<!--" not in page and HOSTILE not in page
    assert figure_of(page, "latency") == figure  # the same figure, once parsed
    assert figure_json({"name": "a & b > c"}) == '{"name":"a \\u0026 b \\u003e c"}'


def test_the_base_page_links_every_section_and_loads_plotly_from_this_server() -> None:
    page = render("base.html", workspace="prod", user="ann", active="Alerts")
    for section in ("models", "alerts", "rollouts", "batch", "audit"):
        assert f'href="/{section}"' in page
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in page
    assert '<script src="/static/plotly-basic.min.js" defer></script>' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from another host
    assert '<span class="user">ann</span>' in page


def test_nothing_to_draw_is_a_note_and_a_bad_element_id_is_refused() -> None:
    assert chart(None, "drift", empty="No window yet.") == '<p class="no-data" id="drift">No window yet.</p>'
    with pytest.raises(InvalidInput, match="must start with a letter"):
        chart({"data": [], "layout": {}}, 'x" onmouseover="alert(1)')
    with pytest.raises(InvalidInput, match="finite numbers"):
        chart({"data": [{"y": [float("nan")]}], "layout": {}}, "latency")


def test_a_page_missing_a_name_it_shows_fails_instead_of_rendering_blank() -> None:
    with pytest.raises(UndefinedError, match="user"):
        render("base.html", workspace="prod")
