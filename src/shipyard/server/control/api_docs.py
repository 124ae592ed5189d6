"""``/api/docs``: the management API drawn from ``/openapi.json`` by the Swagger UI that ships inside shipyard
(the inference server's copy, ``server/swagger_ui``), so the page fetches nothing from another host. It is
public, as ``/openapi.json`` is; every "Try it out" call still needs a token (the Authorize button)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from shipyard.server.api_page import ASSETS, asset_path

DOCS_PATH = "/api/docs"
#: Swagger UI's files change only with the installed package: a browser may keep them for a day.
_CACHED = {"cache-control": "max-age=86400"}


def add_routes(app: FastAPI) -> None:
    """The page and its two files, outside the OpenAPI document they draw."""

    def page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="shipyard control plane: API",
            swagger_js_url=f"{DOCS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_PATH}/swagger-ui.css",
            swagger_favicon_url="data:,",
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )

    app.add_api_route(DOCS_PATH, page, methods=["GET"], include_in_schema=False)
    for served, (name, media_type) in ASSETS.items():
        path = f"{DOCS_PATH}/{served.rsplit('/', 1)[-1]}"
        app.add_api_route(path, _file(name, media_type), methods=["GET"], include_in_schema=False)


def _file(name: str, media_type: str) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(asset_path(name), media_type=media_type, headers=_CACHED)

    return serve
