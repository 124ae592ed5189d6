"""The web dashboard's foundations: Plotly figures from stored monitoring windows, Jinja2 pages, and the
static files (Plotly's JavaScript among them) that ship inside the package, so pages fetch nothing from
another host.

    from shipyard.server.dashboard import charts, templates
    figure = charts.latency_figure(stored_windows(registry, "fraud", timedelta(hours=1)))
    html = templates.render("models.html", workspace=..., user=..., latency=figure)
"""

from shipyard.server.dashboard.assets import STATIC_DIR, STATIC_PATH, static_files

__all__ = ["STATIC_DIR", "STATIC_PATH", "static_files"]
