"""The allowed moves of a status column, for every lifecycle (tasks, documents, replies, agents,
integrations): each move names the statuses it may leave and the one it reaches, and the lifecycle turns it
into one conditional UPDATE (`WHERE status IN sources`), so a row never moves backwards or twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)
M = TypeVar("M", bound=StrEnum)


@dataclass(frozen=True)
class Move(Generic[S]):
    sources: frozenset[S]
    target: S | None  # None: the status stays (the move records something else)


class Moves(dict[M, Move[S]]):
    """A lifecycle's moves by name."""

    def may_move(self, source: S | str, target: S | str) -> bool:
        """Whether some move leads from `source` to `target`; anything else (backwards) is refused."""
        return any(source in move.sources and target == move.target for move in self.values())
