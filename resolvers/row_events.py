"""A domain's row events on Redis: one channel per user, each event `{"kind": <kind>, <kind>: <row>}`
carrying the row as stored, less the columns it leaves out.

One `RowEvents` per domain (resolvers/task_events.py, document_events.py, integration_events.py) holds both
ends, below graph/ and jobs/: the web process and the worker publish what `encode` makes, and the
subscription reads it back with `decode`, so the two cannot drift apart."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Table

from models.base import column_values
from models.row_codec import RowCodec
from resolvers.unit_of_work import UnitOfWork
from services.events import EventHub


class Owned(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...


R = TypeVar("R", bound=Owned)


@dataclass(frozen=True)
class RowEvents(Generic[R]):
    kind: str
    channel: Callable[[uuid.UUID | str], str]  # the owner's channel
    codec: RowCodec

    @classmethod
    def of(
        cls,
        kind: str,
        model: type[R],
        channel: Callable[[uuid.UUID | str], str],
        *,
        leave_out: Iterable[str] = (),
        json_text: Iterable[str] = (),
    ) -> RowEvents[R]:
        table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel declares it untyped
        return cls(kind, channel, RowCodec.of(table, leave_out=leave_out, json_text=json_text))

    def encode(self, row: R) -> dict[str, Any]:
        """The row as stored, for the owner's subscribers (plain JSON)."""
        return {"kind": self.kind, self.kind: self.codec.encode(vars(column_values(row)))}

    def decode(self, event: dict[str, Any]) -> SimpleNamespace:
        """The row an event carries, with its column types back (what the graph's `from_row` reads)."""
        return self.codec.decode(event[self.kind])

    async def publish(self, events: EventHub, row: R) -> None:
        """Tell the owner's subscribers how the row stands now (after the caller's commit)."""
        await events.publish(self.channel(row.user_id), self.encode(row))

    def publish_after_commit(self, uow: UnitOfWork, row: R) -> None:
        """Tell the owner's subscribers, once the unit of work committed, how the row stands."""
        uow.publish(self.channel(row.user_id), self.encode(row))
