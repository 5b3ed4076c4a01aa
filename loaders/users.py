"""Users: only the viewer's own row is ever visible."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select

from loaders import visibility
from loaders.columns import row_columns
from loaders.visibility import users

USER_COLUMNS = row_columns(users)


def visible_users(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_users(viewer_id, *USER_COLUMNS)
