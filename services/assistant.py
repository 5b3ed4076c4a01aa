"""The assistant's provider: any OpenAI-compatible Chat Completions endpoint, spoken to through the
`openai` SDK (docs/decisions.md), streaming.

Invariants:
- every connection passes the egress guard (services/egress.py); loopback and private addresses only when
  the operator allowed them for the provider (GATEWAY_ASSISTANT_ALLOW_PRIVATE), metadata addresses never;
- the SDK's own retries are off: a failed turn is reported once, as a `ProviderFailure` with a code, and the
  reply lifecycle decides what follows (a SYSTEM message, `regenerateReply`);
- the API key goes in the SDK's Authorization header only, and no error text of ours carries it;
- a stream is complete only when a choice said why it finished: a stream that stops without a finish
  reason is broken, not a short answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

from services.egress import EgressPolicy, EgressRefused, guarded_client

log = logging.getLogger("gateway.assistant")


class FailureCode(StrEnum):
    """Why the assistant could not answer (the code a SYSTEM message carries)."""

    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"  # connection refused, 5xx, 429, an address the guard refused
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"  # no first token, a silent stream, or the reply took too long
    PROVIDER_REFUSED = "PROVIDER_REFUSED"  # a 4xx: bad key, unknown model, a prompt the provider rejects
    MALFORMED_STREAM = "MALFORMED_STREAM"  # unparsable chunks, a stream that broke off
    BUDGET_SPENT = "BUDGET_SPENT"  # the user's daily token budget
    INTERNAL = "INTERNAL"  # a fault of the gateway's own


class ProviderFailure(Exception):
    def __init__(self, code: FailureCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ProviderSettings:
    url: str
    model: str
    api_key: str | None
    temperature: float
    first_token_timeout: float
    idle_timeout: float
    max_output_tokens: int


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str = ""

    def parsed_arguments(self) -> dict[str, Any]:
        """The call's arguments; {} when the model sent nothing or something that is not a JSON object."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class TurnEnd:
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


StreamEvent = TextDelta | TurnEnd


class Provider:
    """One per process (web and worker): the SDK client keeps its connection pool."""

    def __init__(self, settings: ProviderSettings, policy: EgressPolicy) -> None:
        self.settings = settings
        self._http = guarded_client(policy, timeout=settings.idle_timeout)
        self._client = AsyncOpenAI(
            base_url=settings.url,
            # Servers without keys (Ollama, llama.cpp) ignore it; the SDK insists on one.
            api_key=settings.api_key or "no-key",
            http_client=self._http,
            max_retries=0,
        )

    @property
    def model(self) -> str:
        return self.settings.model

    async def close(self) -> None:
        await self._client.close()

    async def stream(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[StreamEvent]:
        """One turn: text as it arrives, then a `TurnEnd` (with the tool calls the model asked for)."""
        arguments: dict[str, Any] = {
            "model": self.settings.model,
            "messages": list(messages),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            arguments["tools"] = list(tools)
        calls: dict[int, ToolCall] = {}
        end: TurnEnd | None = None
        started = False
        try:
            async with asyncio.timeout(self.settings.first_token_timeout):
                stream = await self._client.chat.completions.create(**arguments)
                chunks = aiter(stream)
                first = await anext(chunks, None)
            started = first is not None
            pending = [first] if first is not None else []
            async for chunk in _chained(pending, chunks):
                if chunk.usage is not None:
                    if end is None:
                        end = TurnEnd(finish_reason="")
                    end.prompt_tokens = chunk.usage.prompt_tokens
                    end.completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        yield TextDelta(delta.content)
                    for call in (delta.tool_calls if delta is not None else None) or []:
                        slot = calls.setdefault(call.index, ToolCall(id="", name=""))
                        slot.id = call.id or slot.id
                        if call.function is not None:
                            slot.name += call.function.name or ""
                            slot.arguments += call.function.arguments or ""
                    if choice.finish_reason:
                        if end is None:
                            end = TurnEnd(finish_reason=choice.finish_reason)
                        end.finish_reason = choice.finish_reason
        except TimeoutError:
            raise ProviderFailure(FailureCode.PROVIDER_TIMEOUT, "No answer from the provider in time.") from None
        except openai.APITimeoutError:
            raise ProviderFailure(FailureCode.PROVIDER_TIMEOUT, "The provider stopped answering.") from None
        except openai.APIStatusError as error:
            status = error.status_code
            if status == 429 or status >= 500:
                raise ProviderFailure(FailureCode.PROVIDER_UNAVAILABLE, f"The provider answered {status}.") from None
            raise ProviderFailure(
                FailureCode.PROVIDER_REFUSED, f"The provider refused the request ({status})."
            ) from None
        except openai.APIConnectionError as error:
            if started:  # the connection dropped mid-answer
                raise ProviderFailure(FailureCode.MALFORMED_STREAM, "The provider's stream broke off.") from None
            raise ProviderFailure(FailureCode.PROVIDER_UNAVAILABLE, _connection_detail(error)) from None
        except EgressRefused as refused:
            raise ProviderFailure(
                FailureCode.PROVIDER_UNAVAILABLE, f"The provider's address is refused ({refused})."
            ) from None
        except (openai.APIError, httpx2.HTTPError, ValueError) as error:
            # Mid-stream: the body broke off or a chunk was not JSON (the SDK raises APIError, or lets
            # httpx2's and json's errors through).
            raise ProviderFailure(
                FailureCode.MALFORMED_STREAM, f"The provider's stream broke off ({type(error).__name__})."
            ) from None
        if end is None or not end.finish_reason:
            raise ProviderFailure(FailureCode.MALFORMED_STREAM, "The provider's stream ended without finishing.")
        end.tool_calls = [call for _, call in sorted(calls.items()) if call.name]
        yield end


async def _chained(first: list[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for item in first:
        yield item
    async for item in rest:
        yield item


def _connection_detail(error: openai.APIConnectionError) -> str:
    cause: BaseException | None = error.__cause__
    while cause is not None:
        if type(cause).__name__ == "EgressRefused":
            return f"The provider's address is refused ({cause})."
        cause = cause.__cause__ or cause.__context__
    return "The provider could not be reached."
