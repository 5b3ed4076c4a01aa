"""The users domain's root: `viewer`."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.users.types import UserNode


@strawberry.type
class UsersQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> UserNode | None:
        row = await info.context.active_viewer()
        return UserNode.from_row(row) if row is not None else None
