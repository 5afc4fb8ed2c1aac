"""OpenAI chat messages -> the one problem string a session starts from.

A session takes a single problem (the layout wraps it in the model's chat format), so a
conversation is rendered as text, in this order:

    <system and developer messages, each as a paragraph>

    Conversation so far:
    User: <earlier user turn>
    Assistant: <earlier assistant answer>

    <the last user message>

A single user message is passed through unchanged. The last message must come from the
user: it is the request being answered. The same rendering serves the WebSocket sessions,
whose conversation is a list of the same (role, text) items.
"""

from __future__ import annotations

from .errors import invalid

INSTRUCTION_ROLES = ("system", "developer")
TURN_LABELS = {"user": "User", "assistant": "Assistant"}


def render_conversation(messages: list[tuple[str, str]], param: str = "messages") -> str:
    """`messages`: (role, text) pairs, oldest first; raises a 400 naming `param` when unusable."""
    if not messages:
        raise invalid("the conversation is empty; send at least one user message", param, code="empty_array")
    role, last = messages[-1]
    if role != "user":
        raise invalid(f"the last message must come from the user (it is the request answered), got role {role!r}",
                      f"{param}[{len(messages) - 1}].role")
    if not last.strip():
        raise invalid("the last user message is empty", f"{param}[{len(messages) - 1}].content")
    instructions = [text for role, text in messages[:-1] if role in INSTRUCTION_ROLES and text.strip()]
    turns = [f"{TURN_LABELS[role]}: {text}" for role, text in messages[:-1] if role in TURN_LABELS and text.strip()]
    parts = [*instructions]
    if turns:
        parts.append("Conversation so far:\n" + "\n".join(turns))
    parts.append(last)
    return "\n\n".join(parts)
