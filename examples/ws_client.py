"""A duplex session over `/v1/realtime`: ask, then add input while the model is still answering.

    asyncthink serve -m random:Qwen/Qwen3-0.6B --layers 2      # in another terminal
    python examples/ws_client.py "Anna has 3 apples. How many?" "Actually she has 5."

The second argument is sent as `conversation.item.create` once the first thoughts arrive; the
running response hears it (`response.asyncthink.heard`). Ctrl-C sends `response.cancel`.
Uses the `websockets` package (installed with asyncthink).
"""

import json
import os
import sys

from websockets.sync.client import connect

SERVER = os.environ.get("ASYNCTHINK_URL", "http://127.0.0.1:8000")
URL = SERVER.replace("http", "ws", 1) + "/v1/realtime"
KEY = os.environ.get("ASYNCTHINK_API_KEY", "unused")
question = sys.argv[1] if len(sys.argv) > 1 else "Anna has 3 apples and buys 4 more. How many?"
addition = sys.argv[2] if len(sys.argv) > 2 else "Actually she had 5 apples to begin with."


def send(ws, kind, **fields):
    ws.send(json.dumps({"type": kind, **fields}))


def user_message(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


with connect(URL, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
    send(ws, "session.update", session={"max_response_output_tokens": 96, "check_every": 8})
    send(ws, "conversation.item.create", item=user_message(question))
    send(ws, "response.create")
    added = False
    try:
        while True:
            event = json.loads(ws.recv(timeout=300))
            kind = event["type"]
            if kind == "response.reasoning_text.delta":
                print(f"\033[2m{event['delta']}\033[0m", end="", flush=True)
                if not added:  # the model is thinking: say more, without waiting for it to finish
                    send(ws, "conversation.item.create", item=user_message(addition), asyncthink={"hold": "sentence"})
                    added = True
            elif kind == "response.output_text.delta":
                print(event["delta"], end="", flush=True)
            elif kind == "response.asyncthink.heard":
                print(f"\n[heard -> {event['to']}] {event['text']}", flush=True)
            elif kind == "response.asyncthink.state":
                print(f"\n[state -> {event['state']} ({event['reason']})]", flush=True)
            elif kind == "error":
                print(f"\n[error] {event['error']['message']}", flush=True)
            elif kind == "response.done":
                usage = event["response"]["usage"]
                print(f"\n[done: {event['response']['status']}; thinker {usage['thinker_tokens']} tokens, "
                      f"writer {usage['writer_tokens']} tokens]")
                break
    except KeyboardInterrupt:
        send(ws, "response.cancel")
        print("\n[cancelled]")
