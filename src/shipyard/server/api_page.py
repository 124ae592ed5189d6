"""The human-readable side of the server: ``/`` links to everything a person would open, ``/docs`` draws
the server's own OpenAPI document (``/openapi.json``) with Swagger UI.

Swagger UI's two files ship inside shipyard (``server/swagger_ui``: the release build from the
``swagger-ui-dist`` package, Apache-2.0, with its licence; ``make swagger-ui`` refreshes them) and are served
by this server under ``/docs/``, so the page works offline and fetches nothing from another host. Shipping
the 1.6 MB the page loads keeps the core install lean: the Python packages that carry Swagger UI weigh 25 MB
installed, mostly Swagger Editor and source maps.

The pages are public, as FastAPI's are: what they show is the public ``/openapi.json``, and each "Try it
out" call still needs the token, which the page's Authorize button takes.
"""

from __future__ import annotations

import html
import importlib.resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from shipyard._version import __version__
from shipyard.server.calls import server_of

#: The files ``/docs`` loads, by the path they are served at, with their media type.
ASSETS = {
    "/docs/swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
}

# ``validatorUrl: null``: Swagger UI would otherwise send the document to a validator on the internet. The
# empty icon keeps the browser from asking for /favicon.ico, a route this server does not have.
_DOCS = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>shipyard inference server: API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  displayRequestDuration: true,
  persistAuthorization: false
});
</script>
</body>
</html>
"""

_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>shipyard inference server</title>
<link rel="icon" href="data:,">
<style>body {{ font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5 }}</style>
</head>
<body>
<h1>shipyard inference server {version}</h1>
<p>Serving: {models}.</p>
<ul>
<li><a href="/docs">/docs</a>: the API, operation by operation, with "Try it out"</li>
<li><a href="/openapi.json">/openapi.json</a>: the same as an OpenAPI 3.1 document</li>
<li><a href="/v1/models">/v1/models</a>: the models served and the version each answers with</li>
<li><a href="/health/ready">/health/ready</a>: readiness, model by model</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
</ul>
{token_note}
</body>
</html>
"""

_TOKEN_NOTE = (
    "<p>This server needs <code>Authorization: Bearer &lt;token&gt;</code> on every route but these pages, "
    "the health probes and the metrics; on /docs, the Authorize button takes the token.</p>"
)


async def index(request: Request) -> Response:
    server = server_of(request)
    models = ", ".join(html.escape(name) for name in server.engine.models) or "no model"
    token_note = _TOKEN_NOTE if server.config.api_token else ""
    return HTMLResponse(_INDEX.format(version=__version__, models=models, token_note=token_note))


async def docs(request: Request) -> Response:
    return HTMLResponse(_DOCS)


async def asset(request: Request) -> Response:
    name, media_type = ASSETS[request.url.path]
    # Swagger UI's files change only with the installed package: a browser may keep them for a day.
    return FileResponse(asset_path(name), media_type=media_type, headers={"cache-control": "max-age=86400"})


def asset_path(name: str) -> Path:
    """Where one of Swagger UI's shipped files is (the control plane's ``/api/docs`` serves them too)."""
    return Path(str(importlib.resources.files("shipyard.server") / "swagger_ui")) / name


ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
    *(Route(path, asset, methods=["GET"]) for path in ASSETS),
]
