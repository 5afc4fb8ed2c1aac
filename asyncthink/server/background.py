"""Running the app under uvicorn: the settings `asyncthink serve` uses, a server that drains its
streams before it stops and stops itself when the engine fails, and a server in a thread (for
tests and the in-process load benchmark) on an ephemeral localhost port.

    SIGTERM / Ctrl+C ─▶ Server.shutdown ─▶ ServerState.drain: new requests get 503 (Retry-After),
        running streams get `drain_timeout` seconds to finish, the rest end with an error event
        and [DONE] ─▶ uvicorn's own shutdown (connections closed, lifespan ends the engine)
    engine failure ─▶ the same shutdown; `engine_failed` then tells `asyncthink serve` to exit non-zero
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from .state import ServerConfig


class _QuietClientErrors(logging.Filter):
    """uvicorn logs a traceback when a client sends a WebSocket text frame that is not UTF-8 (and
    rightly closes it with 1007): the client's error, not the server's, so one line says enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Invalid UTF-8 sequence received from client.":
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_QUIET = _QuietClientErrors()


class Server(uvicorn.Server):
    def __init__(self, app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 8000,
                 log_level: str = "info"):
        super().__init__(uvicorn_config(app, config, host, port, log_level))  # (configures uvicorn's logging)
        logging.getLogger("uvicorn.error").addFilter(_QUIET)  # once: a logger keeps one of each filter
        self.app = app
        app.state.on_engine_failure = self.stop

    def stop(self) -> None:
        self.should_exit = True

    @property
    def engine_failed(self) -> bool:
        state = getattr(self.app.state, "server", None)
        return state is not None and state.engine.failure is not None

    async def shutdown(self, sockets=None) -> None:
        state = getattr(self.app.state, "server", None)
        if state is not None:
            await state.drain(lambda: self.force_exit)
        await super().shutdown(sockets)


def uvicorn_config(app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 8000,
                   log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          ws_max_size=config.max_body_bytes,  # bigger WebSocket messages close with 1009
                          timeout_graceful_shutdown=5)


def start_in_thread(app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 0,
                    start_timeout: float = 60.0) -> tuple[Server, threading.Thread, str]:
    """Start serving `app` in a daemon thread: (the server, its thread, its base URL) once it listens."""
    server = Server(app, config, host, port, log_level="warning")
    thread = threading.Thread(target=server.run, name="asyncthink-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://{host}:{bound}"


@contextmanager
def serve_in_thread(app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 0,
                    start_timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` in a daemon thread; yields its base URL (`http://127.0.0.1:PORT`)."""
    server, thread, url = start_in_thread(app, config, host, port, start_timeout)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
