"""The GraphQL over HTTP spec's response media type. A client that accepts
`application/graphql-response+json` gets it, and then a request error (the document does not parse or
validate, variables do not coerce, or the gateway refuses the operation before executing it) is HTTP 400
with no `data` entry. Clients asking for `application/json` (or nothing) keep HTTP 200 for every answer."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"


def wants_graphql_response(request: Request) -> bool:
    for part in request.headers.get("accept", "").split(","):
        media_type, _, parameters = part.partition(";")
        if media_type.strip().lower() == GRAPHQL_RESPONSE:
            return "q=0" not in parameters.replace(" ", "").replace("q=0.", "")
    return False


class _Result(Protocol):
    data: Any
    errors: Any


def is_request_error(result: _Result) -> bool:
    """No data and no error located in the execution: the operation never ran (execution errors carry the
    path of their field, even when they null the whole `data`)."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or [])


def mark_request_error(request: Request, processed: dict[str, Any]) -> None:
    processed.pop("data", None)
    request.state.graphql_request_error = True


def finish(request: Request, response: Response) -> Response:
    """The response in the media type the client asked for."""
    if response.media_type == "application/json" and wants_graphql_response(request):
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        if getattr(request.state, "graphql_request_error", False) and response.status_code == 200:
            response.status_code = 400
    return response
