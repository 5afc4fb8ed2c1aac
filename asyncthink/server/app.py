"""The FastAPI app: routes, auth, error rendering, and the engine's lifetime.

    request ─▶ auth (auth.py) ─▶ route ─▶ validation ─▶ admission ─▶ engine session
            ─▶ event bridge ─▶ SSE chunks / JSON / WebSocket events
    any APIError ─▶ {"error": {"message", "type", "param", "code"}} with its status

Routes: `GET`/`HEAD /` (the web page, no auth; its files under `/static/`: page.py), `GET`/`HEAD /health`
(no auth; 503 once the engine has failed), `GET /v1/models`, `GET /v1/models/{id}`,
`POST /v1/chat/completions`, `POST /v1/chat/completions/{id}/input`, WebSocket `/v1/realtime`.
The model is loaded once by the caller and passed in; the engine (one shared KV pool,
one background thread stepping every running session together) lives as long as the app.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ..reasoner import AsyncReasoner
from .auth import check_bearer
from .completions import chat_completions, check_model, hear_input
from .errors import APIError
from .page import add_page
from .realtime import realtime_endpoint
from .state import ServerConfig, ServerState

log = logging.getLogger(__name__)


def create_app(reasoner: AsyncReasoner, config: ServerConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # background.Server sets on_engine_failure: it shuts the server down, for a supervisor to restart
        app.state.server = ServerState.start(reasoner, config, getattr(app.state, "on_engine_failure", None))
        try:
            yield
        finally:
            app.state.server.stop()

    app = FastAPI(title="asyncthink", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())

    def server(request: Request) -> ServerState:
        check_bearer(config.api_key, request.headers.get("authorization"))
        return request.app.state.server

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health(request: Request):
        state: ServerState = request.app.state.server
        engine = state.engine
        body = {"status": "ok" if engine.failure is None else "failed", "model": config.model_name,
                "sessions": engine.active, "waiting": state.admission.waiting,
                "kv_slots": {"allocated": engine.allocated_slots, "capacity": engine.runner.table.capacity},
                "kv_pages": engine.pool(),
                "batch_sizes": {str(k): v for k, v in sorted(engine.batch_sizes.items())}}
        if engine.failure is not None:
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse(body)

    add_page(app)

    def model_card() -> dict:
        return {"id": config.model_name, "object": "model", "created": created, "owned_by": "asyncthink"}

    @app.get("/v1/models")
    async def list_models(request: Request):
        server(request)
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(request: Request, model_id: str):
        check_model(server(request), model_id, param="model_id")
        return model_card()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        return await chat_completions(request, server(request))

    @app.post("/v1/chat/completions/{completion_id}/input")
    async def completion_input(request: Request, completion_id: str):
        return await hear_input(request, server(request), completion_id)

    @app.websocket("/v1/realtime")
    async def realtime(websocket: WebSocket):
        await realtime_endpoint(websocket, websocket.app.state.server)

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_left(request: Request, exc: ClientDisconnect):
        return Response(status_code=499)  # the client left while sending its body: nobody to answer, nothing to log

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = (f"Unknown request URL: {request.method} {request.url.path}." if exc.status_code == 404
                   else f"{exc.detail} for {request.method} {request.url.path}.")
        code = {404: "unknown_url", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(APIError(exc.status_code, message, code=code).body(), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        error = exc.errors()[0]
        param = ".".join(str(p) for p in error.get("loc", ())[1:]) or None
        return JSONResponse(APIError(400, f"Invalid value for '{param}': {error.get('msg')}.", param).body(),
                            status_code=400)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return JSONResponse(APIError(500, "The server had an error while processing your request; see its log.",
                                     code="server_error").body(), status_code=500)

    return app
