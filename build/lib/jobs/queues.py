"""How many jobs of each task queue one worker runs at once (more for higher priorities)."""

from __future__ import annotations

from models.tasks import TaskPriority

# Slots are coroutines waiting on agents (I/O), not threads: an agent's own rate limit protects it.
SLOTS = {TaskPriority.HIGH: 16, TaskPriority.MEDIUM: 8, TaskPriority.LOW: 4}
