"""Per-request DataLoaders. Build one `Loaders` per request (aiodataloader binds to the running loop)."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

from sqlalchemy import Select, Table

from loaders import agents, chat, documents, integrations, tasks, users, visibility
from loaders.base import ConnectionLoaders, RowsByIdLoader
from loaders.documents import DocumentsByIdLoader, DocumentTextLoader, MetadataCache
from loaders.session import RequestDb
from loaders.turns import Turns

_UNUSED = frozenset({"db", "viewer_id", "document_cache", "turns"})


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

    def _by_id(self, base: Select[Any], table: Table) -> RowsByIdLoader:
        return RowsByIdLoader(self.db, self.turns, base, table.c.id)

    @cached_property
    def users(self) -> RowsByIdLoader:
        return self._by_id(users.visible_users(self.viewer_id), visibility.users)

    @cached_property
    def chat_sessions(self) -> RowsByIdLoader:
        return self._by_id(chat.visible_sessions(self.viewer_id), visibility.chat_sessions)

    @cached_property
    def messages(self) -> RowsByIdLoader:
        return self._by_id(chat.visible_messages(self.viewer_id), visibility.messages)

    @cached_property
    def documents(self) -> DocumentsByIdLoader:
        return DocumentsByIdLoader(self.db, self.turns, self.viewer_id, self.document_cache)

    @cached_property
    def document_texts(self) -> DocumentTextLoader:
        return DocumentTextLoader(self.db, self.turns, self.viewer_id)

    @cached_property
    def integrations(self) -> RowsByIdLoader:
        return self._by_id(integrations.visible_integrations(self.viewer_id), visibility.integrations)

    @cached_property
    def agents(self) -> RowsByIdLoader:
        return self._by_id(agents.visible_agents(self.viewer_id), visibility.agents)

    @cached_property
    def tasks(self) -> RowsByIdLoader:
        return self._by_id(tasks.visible_tasks(self.viewer_id), visibility.tasks)

    @cached_property
    def sessions_of_user(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, chat.sessions_of_user)

    @cached_property
    def messages_of_session(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, chat.messages_of_session)

    @cached_property
    def documents_of_user(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, documents.documents_of_user)

    @cached_property
    def integrations_of_user(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, integrations.integrations_of_user)

    @cached_property
    def token_events_of_integration(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, integrations.token_events_of_integration)

    @cached_property
    def agents_registry(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, agents.agents_registry)

    @cached_property
    def tasks_of_user(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, tasks.tasks_of_user)

    @cached_property
    def tasks_of_session(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, tasks.tasks_by(visibility.tasks.c.session_id, self.viewer_id))

    @cached_property
    def logs_of_document(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, documents.logs_of_document)

    @cached_property
    def logs_of_task(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, tasks.logs_of_task)

    @cached_property
    def tasks_of_agent(self) -> ConnectionLoaders:
        return ConnectionLoaders(self.db, self.turns, tasks.tasks_by(visibility.tasks.c.agent_id, self.viewer_id))
