"""Users: the User type, `viewer`, and the account mutations."""

from graph.users.mutations import UsersMutation
from graph.users.queries import UsersQuery
from graph.users.types import UserNode

__all__ = ["UserNode", "UsersMutation", "UsersQuery"]
