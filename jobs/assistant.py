"""Producing the assistant's replies: a job per wake-up of a session takes the session's queued replies one
at a time, in order (resolvers/reply_lifecycle.py), and for each streams the provider's answer to the
session's subscribers as `MessageDelta` events, runs read-only tools as tasks of the session, proposes
the others as actions, and stores the final message once. Nothing here holds a transaction or a row lock
while the provider or an agent is called."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jobs.context import JobContext, WorkerDeps, deps_of
from jobs.tasks import move_task
from models import AssistantReply, Task
from models.tasks import TaskStatus
from resolvers import assistant, assistant_prompt, reply_lifecycle
from resolvers.assistant_prompt import Grounding, Tool, estimate_tokens
from resolvers.assistant_text import read_message, suggestions_for
from resolvers.chat_events import DELTA_KIND, chat_session_channel
from resolvers.problems import Rejected
from resolvers.tasks import TaskRequest, create_task
from resolvers.unit_of_work import run_unit_of_work
from services import token_budget
from services.assistant import FailureCode, Provider, ProviderFailure, TextDelta, ToolCall, TurnEnd

log = logging.getLogger("gateway.jobs.assistant")
MAX_TOOL_ROUNDS = 4
MAX_TOOL_RESULT_CHARS = 4000
TASK_POLL_SECONDS = 0.1
MAX_ACTIONS = 5
PROPOSAL_TEXT = "I can do this once you confirm it."


async def answer_session(ctx: JobContext, *, session_id: str) -> None:
    """saq job: produce the session's queued replies, oldest first, while no other worker does."""
    deps = deps_of(ctx)
    pk = uuid.UUID(session_id)
    for _ in range(assistant.MAX_REPLIES_PER_JOB):
        async with deps.sessionmaker() as db, db.begin():
            reply = await reply_lifecycle.claim_next(db, pk, deps.worker_id)
        if reply is None:
            return
        await _produce(deps, reply)
    # More are queued: another job goes on, so one busy session does not hold a slot for ever.
    await deps.queues.enqueue_reply(
        pk, timeout_seconds=assistant.job_timeout_seconds(deps.settings.assistant_reply_timeout)
    )


@dataclass
class Draft:
    """The reply as it is being written."""

    reply: AssistantReply
    parts: list[str] = field(default_factory=list)
    index: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    counted: bool = False  # the provider reported usage
    actions: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)

    @property
    def content(self) -> str:
        return "".join(self.parts)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


async def _publish_delta(deps: WorkerDeps, draft: Draft, text: str) -> None:
    """One piece of the reply, live. Deltas are not stored: the final message is."""
    draft.parts.append(text)
    event = {
        "kind": DELTA_KIND,
        "delta": {"replyTo": str(draft.reply.reply_to), "index": draft.index, "delta": text},
    }
    draft.index += 1
    await deps.events.publish(chat_session_channel(draft.reply.session_id), event)


async def _produce(deps: WorkerDeps, reply: AssistantReply) -> None:
    started = time.monotonic()
    async with deps.sessionmaker() as db:
        grounding = await assistant_prompt.gather(db, reply, history_tokens=deps.settings.assistant_history_tokens)
    if grounding is None:
        async with deps.sessionmaker() as db, db.begin():
            await assistant.drop_reply(db, reply.id)
        return
    draft = Draft(reply)
    try:
        provider = deps.assistant
        if provider is None:
            raise ProviderFailure(FailureCode.PROVIDER_UNAVAILABLE, "The assistant is not configured.")
        left = await token_budget.remaining(deps.redis, reply.user_id, deps.settings.assistant_daily_tokens)
        if left is not None and left <= 0:
            raise ProviderFailure(
                FailureCode.BUDGET_SPENT, "Today's token budget is spent; the assistant answers again tomorrow (UTC)."
            )
        async with asyncio.timeout(deps.settings.assistant_reply_timeout):
            await _converse(deps, provider, grounding, draft)
    except ProviderFailure as failure:
        await _fail(deps, reply, failure.code, failure.detail, started)
    except TimeoutError:
        await _fail(deps, reply, FailureCode.PROVIDER_TIMEOUT, "The reply took too long.", started)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(_fail(deps, reply, FailureCode.PROVIDER_TIMEOUT, "The reply was cut off.", started))
        raise
    except Exception:
        log.exception("reply %s failed inside the worker", reply.id)
        await _fail(deps, reply, FailureCode.INTERNAL, "Something went wrong in the gateway.", started)
    else:
        await _store(deps, grounding, draft, started)
    finally:
        await token_budget.charge(deps.redis, reply.user_id, _charged(draft))


def _charged(draft: Draft) -> int:
    if draft.counted:
        return draft.tokens
    return estimate_tokens(draft.content) if draft.parts else 0


async def _converse(deps: WorkerDeps, provider: Provider, grounding: Grounding, draft: Draft) -> None:
    messages: list[dict[str, Any]] = grounding.messages()
    tools = {tool.function_name: tool for tool in grounding.tools}
    definitions = [tool.definition() for tool in grounding.tools]
    for round_number in range(MAX_TOOL_ROUNDS + 1):
        end: TurnEnd | None = None
        # The last round offers no tools: the model must answer in words.
        offered = definitions if round_number < MAX_TOOL_ROUNDS else []
        turn_text: list[str] = []
        async for event in provider.stream(messages, offered):
            if isinstance(event, TextDelta):
                turn_text.append(event.text)
                await _publish_delta(deps, draft, event.text)
            else:
                end = event
        assert end is not None
        if end.prompt_tokens is not None or end.completion_tokens is not None:
            draft.counted = True
            draft.prompt_tokens += end.prompt_tokens or 0
            draft.completion_tokens += end.completion_tokens or 0
        if not end.tool_calls or not offered:
            break
        messages.append(
            {
                "role": "assistant",
                "content": "".join(turn_text) or None,
                "tool_calls": [
                    {
                        "id": call.id or f"call_{round_number}_{index}",
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments or "{}"},
                    }
                    for index, call in enumerate(end.tool_calls)
                ],
            }
        )
        for index, call in enumerate(end.tool_calls):
            result = await _tool_result(deps, grounding, draft, tools.get(call.name), call)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id or f"call_{round_number}_{index}",
                    "content": result[:MAX_TOOL_RESULT_CHARS],
                }
            )
    if not draft.parts and draft.actions:
        await _publish_delta(deps, draft, PROPOSAL_TEXT)


async def _tool_result(deps: WorkerDeps, grounding: Grounding, draft: Draft, tool: Tool | None, call: ToolCall) -> str:
    """What the model is told about its call: a read-only tool's output, or that the call was proposed."""
    if tool is None:
        return json.dumps({"error": f"There is no tool named {call.name!r}."})
    arguments = call.parsed_arguments()
    if not tool.read_only:
        if len(draft.actions) >= MAX_ACTIONS:
            return json.dumps({"error": "Too many proposals in one reply."})
        draft.actions.append(
            {
                "type": assistant.RUN_TASK_ACTION,
                "payload": {"agentId": str(tool.agent_id), "taskType": tool.tool_name, "input": arguments},
                "completed": False,
            }
        )
        return json.dumps(
            {
                "status": "proposed",
                "note": "Not run: the user is asked to confirm it first.",
                "action": len(draft.actions) - 1,
            }
        )
    return await _run_read_only(deps, grounding, draft, tool, arguments)


async def _run_read_only(
    deps: WorkerDeps, grounding: Grounding, draft: Draft, tool: Tool, arguments: dict[str, Any]
) -> str:
    """Run the tool as a task of the session (visible through `taskUpdated`) and wait for its outcome."""
    request = TaskRequest(
        agent_id=tool.agent_id,
        task_type=tool.tool_name,
        input=arguments,
        chat_session_id=grounding.session.id,
        chat_session_given=True,
    )
    try:
        task = await run_unit_of_work(
            deps.sessionmaker,
            deps.events,
            deps.queues,
            lambda uow: create_task(uow, deps.redis, grounding.user.id, request),
        )
    except Rejected as rejected:
        return json.dumps({"error": "; ".join(problem.message for problem in rejected.problems)})
    draft.tasks.append(str(task.id))
    # Run it here rather than wait for a task slot; the queued job then finds it taken (claims are
    # conditional) and ends.
    await move_task(deps, str(task.id))
    finished = await _finished_task(deps, task.id)
    if finished is None:
        return json.dumps({"error": "The tool did not finish in time."})
    if finished.status != TaskStatus.COMPLETED:
        return json.dumps({"error": finished.error_message or f"The task ended {finished.status}."})
    return json.dumps(finished.output_payload, default=str)


async def _finished_task(deps: WorkerDeps, task_id: uuid.UUID) -> Task | None:
    """The task once it ended; None if it is still going when the reply's time runs short."""
    deadline = time.monotonic() + deps.settings.assistant_reply_timeout / 2
    while time.monotonic() < deadline:
        async with deps.sessionmaker() as db:
            task = await db.get(Task, task_id)
        if task is not None and task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
            return task
        await asyncio.sleep(TASK_POLL_SECONDS)
    return None


async def _store(deps: WorkerDeps, grounding: Grounding, draft: Draft, started: float) -> None:
    reading = read_message(grounding.reply_to.content)
    provider = deps.assistant
    assert provider is not None
    meta: dict[str, Any] = {
        "aiMetadata": {
            "model": provider.model,
            "temperature": provider.settings.temperature,
            "confidence": reading.confidence,
            "intent": reading.intent,
            "entities": reading.entities,
        },
        "suggestions": suggestions_for(reading.intent, wanted=grounding.wants_suggestions),
        "actions": draft.actions,
        "attachments": grounding.documents,
    }
    if draft.tasks:
        meta["tasks"] = draft.tasks
    tokens = draft.completion_tokens if draft.counted else estimate_tokens(draft.content)
    elapsed = int((time.monotonic() - started) * 1000)
    try:
        await run_unit_of_work(
            deps.sessionmaker,
            deps.events,
            deps.queues,
            lambda uow: assistant.record_answer(
                uow, draft.reply, draft.content, meta, token_count=tokens, processing_time_ms=elapsed
            ),
        )
    except assistant.Superseded:
        log.info("reply %s was taken back while it was produced; its outcome is dropped", draft.reply.id)


async def _fail(deps: WorkerDeps, reply: AssistantReply, code: FailureCode, detail: str, started: float) -> None:
    elapsed = int((time.monotonic() - started) * 1000)
    log.info("reply %s failed: %s", reply.id, code.value)
    try:
        await run_unit_of_work(
            deps.sessionmaker,
            deps.events,
            deps.queues,
            lambda uow: assistant.record_failure(uow, reply, code.value, detail, processing_time_ms=elapsed),
        )
    except assistant.Superseded:
        log.info("reply %s was taken back while it was produced; its failure is dropped", reply.id)
