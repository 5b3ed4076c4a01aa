"""Per-request DataLoaders. Build one `Loaders` per request (aiodataloader binds to the running loop)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cached_property
from typing import Any

from sqlalchemy import Select, Table

from loaders import visibility
from loaders.agents import agents_registry, visible_agents
from loaders.base import ConnectionLoaders, RowsByIdLoader, SpecFor
from loaders.chat import messages_of_session, sessions_of_user, visible_messages, visible_sessions
from loaders.documents import (
    DocumentsByIdLoader,
    DocumentTextLoader,
    MetadataCache,
    documents_of_user,
    logs_of_document,
)
from loaders.integrations import integrations_of_user, token_events_of_integration, visible_integrations
from loaders.session import RequestDb
from loaders.tasks import logs_of_task, tasks_of_agent, tasks_of_session, tasks_of_user, visible_tasks
from loaders.turns import Turns
from loaders.users import visible_users

_UNUSED = frozenset({"db", "viewer_id", "document_cache", "turns"})

VisibleRows = Callable[[uuid.UUID | None], Select[Any]]


def _rows_by_id(visible: VisibleRows, table: Table) -> cached_property[RowsByIdLoader]:
    """A loader of the rows of `table` the viewer may read, by id, built on first use."""

    def build(loaders: Loaders) -> RowsByIdLoader:
        return RowsByIdLoader(loaders.db, loaders.turns, visible(loaders.viewer_id), table.c.id)

    return cached_property(build)


def _connection(spec_for: SpecFor) -> cached_property[ConnectionLoaders]:
    """The page and count loaders of one connection kind, built on first use."""

    def build(loaders: Loaders) -> ConnectionLoaders:
        return ConnectionLoaders(loaders.db, loaders.turns, spec_for)

    return cached_property(build)


def _viewers_connection(spec_for: Callable[[uuid.UUID | None], SpecFor]) -> cached_property[ConnectionLoaders]:
    """A connection whose rows are narrowed to the viewer's own (its parent may be shared, e.g. an agent)."""

    def build(loaders: Loaders) -> ConnectionLoaders:
        return ConnectionLoaders(loaders.db, loaders.turns, spec_for(loaders.viewer_id))

    return cached_property(build)


class Loaders:
    def __init__(self, db: RequestDb, viewer_id: uuid.UUID | None, document_cache: MetadataCache | None = None) -> None:
        self.db = db
        self.viewer_id = viewer_id
        self.document_cache = document_cache
        self.turns = Turns()  # this request's share of the event loop

    @property
    def unused(self) -> bool:
        """No loader was made yet (each is built on first use), so none holds rows."""
        return vars(self).keys() <= _UNUSED

    users = _rows_by_id(visible_users, visibility.users)
    chat_sessions = _rows_by_id(visible_sessions, visibility.chat_sessions)
    messages = _rows_by_id(visible_messages, visibility.messages)
    integrations = _rows_by_id(visible_integrations, visibility.integrations)
    agents = _rows_by_id(visible_agents, visibility.agents)
    tasks = _rows_by_id(visible_tasks, visibility.tasks)

    @cached_property
    def documents(self) -> DocumentsByIdLoader:
        return DocumentsByIdLoader(self.db, self.turns, self.viewer_id, self.document_cache)

    @cached_property
    def document_texts(self) -> DocumentTextLoader:
        return DocumentTextLoader(self.db, self.turns, self.viewer_id)

    sessions_of_user = _connection(sessions_of_user)
    messages_of_session = _connection(messages_of_session)
    documents_of_user = _connection(documents_of_user)
    integrations_of_user = _connection(integrations_of_user)
    token_events_of_integration = _connection(token_events_of_integration)
    agents_registry = _connection(agents_registry)
    tasks_of_user = _connection(tasks_of_user)
    tasks_of_session = _viewers_connection(tasks_of_session)
    tasks_of_agent = _viewers_connection(tasks_of_agent)
    logs_of_document = _connection(logs_of_document)
    logs_of_task = _connection(logs_of_task)
