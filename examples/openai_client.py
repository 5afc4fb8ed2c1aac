"""Stream a completion from `asyncthink serve` with the official openai client: thoughts and answer.

    asyncthink serve -m random:Qwen/Qwen3-0.6B --layers 2      # in another terminal
    python examples/openai_client.py "What is 17 * 23?"

The thinker's text arrives in `delta.reasoning` (and `delta.reasoning_content`), the writer's
in `delta.content`; asyncthink's state changes in `delta.asyncthink` (ignored by other clients).
"""

import os
import sys

from openai import OpenAI

SERVER = os.environ.get("ASYNCTHINK_URL", "http://127.0.0.1:8000")
client = OpenAI(base_url=f"{SERVER}/v1", api_key=os.environ.get("ASYNCTHINK_API_KEY", "unused"))
question = sys.argv[1] if len(sys.argv) > 1 else "What is 17 * 23?"
model = client.models.list().data[0].id

stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": question}],
    max_tokens=64,
    stream=True,
    stream_options={"include_usage": True},
    extra_body={"check_every": 8},  # asyncthink extension: ask "may the writer go on?" every 8 thought tokens
)
for chunk in stream:
    if chunk.usage:
        extra = chunk.usage.model_extra
        print(f"\n[usage] thinker {extra['thinker_tokens']} tokens, writer {extra['writer_tokens']} tokens, "
              f"first answer token after {extra['time_to_first_writer_token']} s")
        continue
    delta = chunk.choices[0].delta
    extension = delta.model_extra or {}
    if extension.get("reasoning"):
        print(f"\033[2m{extension['reasoning']}\033[0m", end="", flush=True)  # thoughts, dimmed
    if delta.content:
        print(delta.content, end="", flush=True)  # the answer
    if "state" in extension.get("asyncthink", {}):
        print(f"\n[state -> {extension['asyncthink']['state']['state']}]", flush=True)
