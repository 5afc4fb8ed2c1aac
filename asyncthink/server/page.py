"""The web page at `/`: plain HTML, CSS and JavaScript from `static/` (no build step, nothing from a CDN).

    GET / ─▶ static/index.html      GET /static/<file> ─▶ static/app.js, speech.js, style.css, favicon.svg
    the page ─▶ WebSocket /v1/realtime (the API key, if the server has one, as the subprotocol
                `openai-insecure-api-key.KEY`, typed into the page)

No auth on these routes: the files are public and hold no secrets; the API behind them keeps its key.
A Content-Security-Policy lets the page load only its own files and talk only to its own server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Cache-Control": "no-cache",  # revalidated (ETag) each load: a new version of the package shows at once
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


class _StaticFiles(StaticFiles):
    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def add_page(app: FastAPI) -> None:
    """`GET`/`HEAD /` (the page) and `/static/*` (its files), without auth."""

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    app.mount("/static", _StaticFiles(directory=STATIC), name="static")
