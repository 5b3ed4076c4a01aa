"""A real OpenAI-compatible Chat Completions server on loopback (Starlette on uvicorn) standing in for the
assistant's provider: server-sent-event streaming, tool calls, usage counts, and switches for errors, a slow
first token, broken and malformed streams. It records every request it received.

Switches ride in the last user message, so tests sharing one server cannot disturb each other:
    [[status:500]]      answer that HTTP status (an OpenAI-style error body)
    [[slow:3]]          wait 3 s before the first byte
    [[broken]]          send two chunks, then drop the connection
    [[malformed]]       send a chunk that is not JSON
    [[silent-end]]      end the stream without a finish reason
    [[tool:NAME {json}]] call the tool NAME with those arguments (once; then answer with its result)
    [[once]]            apply the switches only the first time this exact message is seen
Without switches it answers "Sure. You asked: <the message's first words>." word by word.
Run as a module to serve on a port: `python -m tests.assistant.provider_peer PORT [DELAY_MS]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SWITCH = re.compile(r"\[\[(status|slow|broken|malformed|silent-end|tool|once)(?::([^\]]*))?\]\]")


@dataclass
class ProviderState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    piece_delay: float = 0.0  # seconds between two chunks

    def prompts_text(self) -> str:
        """Everything any prompt so far carried, as one text (to search for what must never be there)."""
        return json.dumps(self.requests)


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-peer",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _usage(model: str, prompt: int, completion: int) -> str:
    body = {
        "id": "chatcmpl-peer",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
    return f"data: {json.dumps(body)}\n\n"


def answer_words(text: str) -> list[str]:
    words = SWITCH.sub("", text).split()[:8]
    sentence = f"Sure. You asked: {' '.join(words)}." if words else "Sure."
    pieces = sentence.split(" ")
    return [piece if index == 0 else f" {piece}" for index, piece in enumerate(pieces)]


def build_app(state: ProviderState) -> Starlette:
    async def completions(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        state.headers.append(dict(request.headers))
        messages = body.get("messages") or []
        model = body.get("model") or "peer"
        text = _last_user(messages)
        switches = {name: value for name, value in SWITCH.findall(text)}
        state.seen[text] = state.seen.get(text, 0) + 1
        if "once" in switches and state.seen[text] > 1:
            switches = {}
        if "slow" in switches:
            await asyncio.sleep(float(switches["slow"] or 3))
        if "status" in switches:
            status = int(switches["status"] or 500)
            return JSONResponse({"error": {"message": "peer says no", "type": "peer", "code": status}}, status)
        tool_result = next((m for m in reversed(messages) if m.get("role") == "tool"), None)
        call_tool = "tool" in switches and tool_result is None and body.get("tools")
        prompt_tokens = max(1, len(json.dumps(messages)) // 4)

        async def stream() -> AsyncIterator[str]:
            if call_tool:
                name, _, arguments = (switches["tool"] or "").strip().partition(" ")
                yield _chunk(model, {"role": "assistant", "content": "Let me check. "})
                yield _chunk(
                    model,
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    },
                )
                half = len(arguments) // 2
                for part in (arguments[:half], arguments[half:]):
                    yield _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
                yield _chunk(model, {}, "tool_calls")
                yield _usage(model, prompt_tokens, 7)
                yield "data: [DONE]\n\n"
                return
            pieces = (
                ["Done: ", str(tool_result.get("content"))[:300]] if tool_result is not None else answer_words(text)
            )
            for index, piece in enumerate(pieces):
                if index == 2 and "broken" in switches:
                    raise RuntimeError("the peer drops the connection")
                if index == 1 and "malformed" in switches:
                    yield "data: {this is not json\n\n"
                yield _chunk(model, {"role": "assistant", "content": piece} if index == 0 else {"content": piece})
                if state.piece_delay:
                    await asyncio.sleep(state.piece_delay)
            if "silent-end" in switches:
                return
            yield _chunk(model, {}, "stop")
            yield _usage(model, prompt_tokens, len(pieces))
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "peer-model", "object": "model"}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/v1/models", models)])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningProvider:
    url: str  # the base URL, as GATEWAY_ASSISTANT_URL takes it
    state: ProviderState


@contextlib.asynccontextmanager
async def provider_peer(*, port: int | None = None, piece_delay: float = 0.0) -> AsyncIterator[RunningProvider]:
    state = ProviderState(piece_delay=piece_delay)
    port = port or free_port()
    config = uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningProvider(url=f"http://127.0.0.1:{port}/v1", state=state)
    finally:
        server.should_exit = True
        await task


async def _serve_forever(port: int, piece_delay: float) -> None:
    async with provider_peer(port=port, piece_delay=piece_delay):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve_forever(int(sys.argv[1]), float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0))
