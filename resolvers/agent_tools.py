"""What an agent's tool list may be. The list comes from the agent (its `tools/list` answer), is stored on the
agent and goes out in every agent list and assistant prompt, so an agent that lists too much is refused at
discovery, like any other input that is too large."""

from __future__ import annotations

from typing import Any

from resolvers.problems import ErrorCode, Problem
from resolvers.validation import check_json

TOOLS_MAX = 256
CAPABILITIES_MAX_BYTES = 256 * 1024  # below the 1 MiB the MCP client takes in one message
CAPABILITIES_MAX_DEPTH = 64  # nested containers, counted from the list itself


def capabilities_problem(tools: list[dict[str, Any]]) -> Problem | None:
    """Why the discovered tool list cannot be kept, or None."""
    if len(tools) > TOOLS_MAX:
        return Problem("input.endpoint", ErrorCode.INVALID, f"The agent lists {len(tools)} tools; at most {TOOLS_MAX}.")
    unfit = check_json("input.endpoint", tools, max_bytes=CAPABILITIES_MAX_BYTES, max_depth=CAPABILITIES_MAX_DEPTH)
    if unfit is None:
        return None
    return Problem(unfit.field, unfit.code, f"The agent's tool list cannot be kept: {unfit.message}")
