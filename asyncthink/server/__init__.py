"""`asyncthink serve`: an OpenAI-compatible HTTP server and a duplex WebSocket session API.

    HTTP/WS request ─▶ auth ─▶ validation (openai_request.py) ─▶ admission (admission.py, bounded wait
    for KV room) ─▶ Engine.submit: a session in the shared KV pool, stepped with every other running
    session in one forward pass by the engine's thread ─▶ step signal (bridge.py) ─▶ the session's
    events ─▶ OpenAI chunks (openai_response.py) as SSE frames or JSON (completions.py), or Realtime-style
    events (realtime.py)

Files: app.py (routes, error rendering, lifetime), state.py (config and shared state),
errors.py, auth.py, openai_request.py, prompts.py, openai_response.py, stops.py, bridge.py,
admission.py, completions.py, realtime.py, background.py (uvicorn settings, draining shutdown, stop on
engine failure; a server in a thread), page.py (the web page at `/`, its files in static/).
"""

from .app import create_app
from .background import Server, serve_in_thread, uvicorn_config
from .state import ServerConfig

__all__ = ["Server", "ServerConfig", "create_app", "serve_in_thread", "uvicorn_config"]
