"""Users: only the viewer's own row is ever visible."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false, select

from loaders.columns import row_columns
from models import User

users = User.__table__  # type: ignore[attr-defined]
USER_COLUMNS = row_columns(users)


def visible_users(viewer_id: uuid.UUID | None) -> Select[Any]:
    if viewer_id is None:
        return select(*USER_COLUMNS).where(false())
    return select(*USER_COLUMNS).where(users.c.id == viewer_id, users.c.deleted_at.is_(None))
