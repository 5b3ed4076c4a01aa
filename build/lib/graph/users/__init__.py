"""Users: the User type, `viewer`, and the account mutations."""

from graph.users.schema import UsersMutation, UsersQuery
from graph.users.types import UserNode

__all__ = ["UserNode", "UsersMutation", "UsersQuery"]
