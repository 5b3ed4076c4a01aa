"""Integration events on Redis: one channel per user; each event carries the integration's public columns
as stored (resolvers/row_events.py), never a token column. The web process and the worker publish what
`INTEGRATION_EVENTS.encode` makes, and `integrationUpdated` reads it back with its `decode`."""

from __future__ import annotations

from models import Integration
from resolvers.row_events import RowEvents
from services import keys

SECRET_COLUMNS = frozenset({"encrypted_tokens", "refresh_token_encrypted"})
INTEGRATION_EVENTS = RowEvents.of("integration", Integration, keys.integration_events, leave_out=SECRET_COLUMNS)
