"""The provider adapter against the OpenAI-compatible stand-in: streaming, tool calls, usage, and every
failure mapped to its code. No database: the adapter alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.assistant import FailureCode, Provider, ProviderFailure, ProviderSettings, TextDelta, TurnEnd
from services.egress import EgressPolicy
from tests.assistant.provider_peer import RunningProvider, provider_peer

LOOPBACK = EgressPolicy(allow_loopback=True, allow_private=True)


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[RunningProvider]:
    async with provider_peer() as running:
        yield running


def provider(url: str, *, policy: EgressPolicy = LOOPBACK, first_token: float = 2.0) -> Provider:
    return Provider(
        ProviderSettings(
            url=url,
            model="peer-model",
            api_key="sk-test-secret",
            temperature=0.2,
            first_token_timeout=first_token,
            idle_timeout=2.0,
            max_output_tokens=256,
        ),
        policy,
    )


async def turn(client: Provider, text: str, tools: list[dict[str, Any]] | None = None) -> tuple[str, TurnEnd]:
    parts: list[str] = []
    end: TurnEnd | None = None
    async for event in client.stream([{"role": "user", "content": text}], tools or []):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            end = event
    assert end is not None
    return "".join(parts), end


async def test_a_streamed_answer_with_usage(peer: RunningProvider) -> None:
    client = provider(peer.url)
    text, end = await turn(client, "hello there friend")
    assert text == "Sure. You asked: hello there friend."
    assert end.finish_reason == "stop" and end.prompt_tokens and end.completion_tokens == 6
    assert peer.state.headers[-1]["authorization"] == "Bearer sk-test-secret"
    assert peer.state.requests[-1]["stream"] is True
    await client.close()


async def test_a_tool_call_arrives_whole(peer: RunningProvider) -> None:
    client = provider(peer.url)
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    _, end = await turn(client, '[[tool:lookup {"name": "Acme"}]]', [tool])
    assert end.finish_reason == "tool_calls"
    assert [(call.name, call.parsed_arguments()) for call in end.tool_calls] == [("lookup", {"name": "Acme"})]
    await client.close()


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        ("[[status:500]]", FailureCode.PROVIDER_UNAVAILABLE),
        ("[[status:429]]", FailureCode.PROVIDER_UNAVAILABLE),
        ("[[status:401]]", FailureCode.PROVIDER_REFUSED),
        ("[[status:400]]", FailureCode.PROVIDER_REFUSED),
        ("[[slow:3]]", FailureCode.PROVIDER_TIMEOUT),
        ("[[broken]]", FailureCode.MALFORMED_STREAM),
        ("[[malformed]]", FailureCode.MALFORMED_STREAM),
        ("[[silent-end]]", FailureCode.MALFORMED_STREAM),
    ],
)
async def test_failures_carry_their_code(peer: RunningProvider, switch: str, code: FailureCode) -> None:
    client = provider(peer.url, first_token=1.0)
    with pytest.raises(ProviderFailure) as failure:
        await turn(client, f"please {switch}")
    assert failure.value.code is code
    assert "sk-test-secret" not in str(failure.value)
    await client.close()


async def test_a_provider_that_is_down_is_unavailable() -> None:
    from tests.assistant.provider_peer import free_port

    client = provider(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderFailure) as failure:
        await turn(client, "hello")
    assert failure.value.code is FailureCode.PROVIDER_UNAVAILABLE
    await client.close()


async def test_loopback_is_refused_unless_allowed(peer: RunningProvider) -> None:
    client = provider(peer.url, policy=EgressPolicy())
    before = len(peer.state.requests)
    with pytest.raises(ProviderFailure) as failure:
        await turn(client, "hello")
    assert failure.value.code is FailureCode.PROVIDER_UNAVAILABLE
    assert "refused" in failure.value.detail
    assert len(peer.state.requests) == before
    await client.close()
