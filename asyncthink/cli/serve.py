"""`asyncthink serve`: the HTTP/WebSocket server (its load benchmark `bench-server` is in bench/server_load.py).

    serve: options ─▶ the model, loaded once ─▶ create_app (server/app.py) ─▶ uvicorn on --host:--port
           ─▶ SIGTERM drains the streams (server/background.py); an engine failure exits with status 1

Binds 127.0.0.1 unless told otherwise; the API key comes from --api-key or ASYNCTHINK_API_KEY.
The address also serves a web page (server/page.py).
User errors (a model that cannot load, ...) print one line (cli/common.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..defaults import DEFAULT_MODEL
from .common import load_model, user_errors

MODEL, LIMITS, API = "Model", "Limits", "API"


def serve(
    model: Annotated[str, typer.Option("--model", "-m", rich_help_panel=MODEL,
                                       help="Hub name, local path, or random:<hub name>.")] = DEFAULT_MODEL,
    device: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    dtype: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto, float32, bfloat16 or float16.")] = "auto",
    layers: Annotated[int | None, typer.Option(min=1, rich_help_panel=MODEL,
                                                  help="random: models only: number of hidden layers.")] = None,
    decode: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto (eager; CUDA graphs are opt-in until "
                                        "they have run on a GPU), eager, static or graphs.")] = "auto",
    served_model_name: Annotated[str | None, typer.Option(rich_help_panel=MODEL, show_default="--model",
                                                             help="The model id clients send and /v1/models "
                                                             "lists.")] = None,
    host: Annotated[str, typer.Option(rich_help_panel=API, help="Address to bind; 0.0.0.0 exposes the "
                                      "server to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, rich_help_panel=API,
                                      help="TCP port to listen on (0: any free port).")] = 8000,
    api_key: Annotated[str | None, typer.Option(envvar="ASYNCTHINK_API_KEY", rich_help_panel=API,
                                                   show_default="none: no auth",
                                                   help="Require `Authorization: Bearer KEY`.")] = None,
    reasoning_field: Annotated[str, typer.Option(rich_help_panel=API,
                                                 help="Where thinker text goes in chunks and messages: reasoning, "
                                                 "reasoning_content, both or none (per request: "
                                                 "reasoning_field).")] = "both",
    capacity: Annotated[int, typer.Option(min=1, rich_help_panel=LIMITS,
                                          help="KV slots shared by all running sessions, a pool of pages "
                                          "allocated at start (the size in GiB is printed); sessions take "
                                          "pages as they write.")] = 16384,
    page_size: Annotated[int, typer.Option(min=1, rich_help_panel=LIMITS,
                                           help="KV slots per page of the pool.")] = 16,
    max_waiting: Annotated[int, typer.Option(min=0, rich_help_panel=LIMITS,
                                             help="Requests that may wait for KV room; more get 429.")] = 64,
    queue_timeout: Annotated[float, typer.Option(min=0, rich_help_panel=LIMITS,
                                                 help="Seconds a request may wait for KV room; then 503.")] = 30.0,
    drain_timeout: Annotated[float, typer.Option(min=0, rich_help_panel=LIMITS,
                                                 help="Seconds running streams may finish in at shutdown (SIGTERM); "
                                                 "then they end with an error event.")] = 10.0,
    max_body_bytes: Annotated[int, typer.Option(min=1024, rich_help_panel=LIMITS,
                                                help="Largest request body / WebSocket message.")] = 1 << 20,
    default_max_tokens: Annotated[int, typer.Option(min=1, rich_help_panel=LIMITS,
                                                    help="Completion tokens (thinker and writer together) when a request sets "
                                                    "no max_tokens.")] = 512,
    listen_capacity: Annotated[int, typer.Option(min=0, rich_help_panel=LIMITS,
                                                 help="Tokens of heard input a session may take (per "
                                                 "target; pages only for what is heard).")] = 256,
    prefill_chunk: Annotated[int, typer.Option(min=0, rich_help_panel=LIMITS,
                                               help="Prompt tokens per forward pass (chunked prefill), so a new "
                                               "request stalls running streams briefly; 0: whole prompts.")] = 256,
) -> None:
    """Serve the model: OpenAI-compatible /v1/chat/completions, a duplex WebSocket /v1/realtime, a web page at /."""
    from ..models.random_weights import is_random_spec
    from ..reasoner import resolve_device

    if reasoning_field not in ("reasoning", "reasoning_content", "both", "none"):
        raise typer.BadParameter("choose reasoning, reasoning_content, both or none", param_hint="'--reasoning-field'")
    if layers is not None and not is_random_spec(model):
        raise typer.BadParameter(f"only applies to random: models, not {model!r}", param_hint="'--layers'")
    with user_errors():
        from ..server import Server, ServerConfig, create_app
        from ..server.state import kv_arena_bytes

        reasoner = load_model(model, device, dtype, layers, decode)
        if page_size > capacity:
            raise typer.BadParameter(f"at most --capacity ({capacity})", param_hint="'--page-size'")
        config = ServerConfig(model_name=served_model_name or model, api_key=api_key, capacity=capacity,
                              page_size=page_size,
                              max_waiting=max_waiting, queue_timeout=queue_timeout, max_body_bytes=max_body_bytes,
                              drain_timeout=drain_timeout,
                              default_max_tokens=default_max_tokens, reasoning_field=reasoning_field,
                              listen_capacity=listen_capacity, prefill_chunk=prefill_chunk or None)
        gib = kv_arena_bytes(reasoner.model, capacity) / 2**30
        typer.echo(f"serving {config.model_name} ({resolve_device(device)}; auth {'on' if api_key else 'off'}; "
                   f"KV pool {capacity} slots in pages of {page_size} = {gib:.2f} GiB); uvicorn prints the address; "
                   "open it in a browser for the web page", err=True)
        server = Server(create_app(reasoner, config), config, host, port)
        server.run()
    if server.engine_failed:  # the log says why; a supervisor restarts the process
        typer.echo("the decoding engine failed; the server stopped (exit status 1)", err=True)
        raise typer.Exit(1)
