"""Voice agents: asyncthink as the LLM of a Pipecat pipeline or a LiveKit Agents session.

    framework (Pipecat / LiveKit) ─▶ adapter (pipecat.py / livekit.py) ─▶ client.py: one response over
    the server's `/v1/realtime` WebSocket ─▶ `asyncthink serve`
    writer text ─▶ the framework's spoken text (TTS)
    thinker text ─▶ Pipecat's thought frames, LiveKit chunks' `extra` (never spoken)
    user speech that ends while a response runs ─▶ heard by that response (`conversation.item.create`)

Nothing here is imported by `import asyncthink`; `asyncthink.voice.pipecat` needs only Pipecat
(`pip install "asyncthink[pipecat]"`), `asyncthink.voice.livekit` only LiveKit Agents
(`pip install "asyncthink[livekit]"`); client.py needs neither.
"""
