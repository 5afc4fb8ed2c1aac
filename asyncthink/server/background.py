"""Running the app under uvicorn: the settings `asyncthink serve` uses, and a server in a thread
(for tests and the in-process load benchmark) on an ephemeral localhost port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from .state import ServerConfig


def uvicorn_config(app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 8000,
                   log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          ws_max_size=config.max_body_bytes,  # bigger WebSocket messages close with 1009
                          timeout_graceful_shutdown=5)


@contextmanager
def serve_in_thread(app: FastAPI, config: ServerConfig, host: str = "127.0.0.1", port: int = 0,
                    start_timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` in a daemon thread; yields its base URL (`http://127.0.0.1:PORT`)."""
    server = uvicorn.Server(uvicorn_config(app, config, host, port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="asyncthink-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
