"""Every Redis key and pub/sub channel the gateway names, in one place, so that two processes (or a process
and a test) cannot drift apart on a format, and so that what goes into a key can be seen at a glance.

Keys hold only values the gateway made: ids, hashes, names of its own. Anything a client sends (an email, a
token, an address) is hashed before it becomes part of a key, by the caller (`services/ratelimit.py`,
`services/cost_budget.py`, the one-time links) or here."""

from __future__ import annotations

import hashlib
import uuid

from models.tasks import TaskPriority

# --- sign-ins (services/sign_ins.py) ---
REVOCATIONS_CHANNEL = "auth:revocations"


def refresh_token(token_hash: str) -> str:
    """A refresh token, by its SHA-256 (the token itself is never stored)."""
    return f"signin:refresh:{token_hash}"


def sign_in(sid: str) -> str:
    return f"signin:sid:{sid}"


def sign_ins_of(user_id: uuid.UUID | str) -> str:
    return f"signin:user:{user_id}"


def revoked_sign_in(sid: str) -> str:
    return f"signin:revoked:{sid}"


# --- single-use links mailed to users (resolvers/users/recovery.py) ---
def one_time_link(purpose: str, token: str) -> str:
    return f"{purpose}:{hashlib.sha256(token.encode()).hexdigest()}"


# --- attempt limits and query cost budgets ---
def attempt_counter(limit_name: str, subject_digest: str) -> str:
    return f"ratelimit:{limit_name}:{subject_digest}"


def attempt_strikes(counter: str) -> str:
    """How often the counter's window filled up (its back-off)."""
    return f"{counter}:strikes"


def cost_budget(subject_digest: str) -> str:
    return f"ratelimit:cost:{subject_digest}"


def agent_calls_limit(agent_id: uuid.UUID) -> str:
    """The name of an agent's rate limit (`rateLimit` of its configuration), counted as an attempt limit."""
    return f"agent:{agent_id}"


# --- MCP agents ---
def agent_capabilities(agent_id: uuid.UUID) -> str:
    return f"agent:capabilities:{agent_id}"


def agent_health_failures(agent_id: uuid.UUID) -> str:
    return f"agent:health:failures:{agent_id}"


# --- tasks, their queues and the workers running them ---
MAINTENANCE_QUEUE = "maintenance"
ASSISTANT_QUEUE = "assistant"


def reply_job(session_id: uuid.UUID) -> str:
    """A saq job key: one per wake-up of a session's replies (a nonce, so no wake-up is deduplicated away)."""
    return f"reply:{session_id}:{uuid.uuid4().hex[:8]}"


def assistant_tokens(user_id: uuid.UUID, day: str) -> str:
    """Tokens a user spent on the assistant on one UTC day (`yyyymmdd`)."""
    return f"assistant:tokens:{user_id}:{day}"


def task_queue(priority: TaskPriority) -> str:
    """saq's queue for one priority (saq orders by priority only on its Postgres backend)."""
    return f"tasks-{priority.value}"


def task_job(task_id: uuid.UUID) -> str:
    """A saq job key: one per attempt to move the task on (a nonce keeps two attempts apart)."""
    return f"task:{task_id}:{uuid.uuid4().hex[:8]}"


def task_enqueued(task_id: uuid.UUID | str) -> str:
    return f"task:enqueued:{task_id}"


def task_queue_attempts(task_id: uuid.UUID | str) -> str:
    return f"task:queue-attempts:{task_id}"


def worker_alive(worker_id: str) -> str:
    return f"worker:alive:{worker_id}"


# --- the retention purge (jobs/retention.py): totals of every process, for any gateway's /metrics ---
PURGE_TOTALS = "purge:totals"  # hash: "<rule>:<table>" -> rows removed, all processes, ever
PURGE_LAST_SUCCESS = "purge:last-success"  # unix time the last complete purge ended


# --- persisted queries (graph/persisted.py): documents by their sha256, and the index that bounds them ---
PERSISTED_QUERY_INDEX = "apq:index"


def persisted_query(digest: str) -> str:
    return f"apq:document:{digest}"


# --- event channels (services/events.py carries them) ---
def task_events(user_id: uuid.UUID | str) -> str:
    """Every change of the user's tasks."""
    return f"tasks:user:{user_id}"


def notifications(user_id: uuid.UUID | str) -> str:
    """What the gateway tells the user of its own accord (a task asked to notify on completion)."""
    return f"notifications:user:{user_id}"


def chat_session_events(chat_session_id: uuid.UUID) -> str:
    """Messages added, edited and deleted in one chat session."""
    return f"chat:session:{chat_session_id}"


def integration_events(user_id: uuid.UUID | str) -> str:
    """The channel of one user's integration changes (`integrationUpdated`)."""
    return f"integrations:user:{user_id}"


# --- documents (issue 10): events, metadata cache, processing queue ---
DOCUMENTS_QUEUE = "documents"


def document_events(user_id: uuid.UUID | str) -> str:
    """The channel of one user's document changes (`documentUpdated`)."""
    return f"documents:user:{user_id}"


def document_metadata(document_id: uuid.UUID) -> str:
    """A document's cached metadata (services/document_cache.py), tagged with its generation."""
    return f"documents:meta:{document_id}"


def document_generation(document_id: uuid.UUID) -> str:
    """Bumped after every change of the document: a cache entry of an older generation is never served."""
    return f"documents:generation:{document_id}"


def document_queued(document_id: uuid.UUID) -> str:
    """Set while a job for the document waits in the queue (the sweep leaves such a document alone)."""
    return f"documents:queued:{document_id}"


def document_lease(document_id: uuid.UUID) -> str:
    """Held by the worker processing the document, for at most one job's time."""
    return f"documents:lease:{document_id}"


def document_job(document_id: uuid.UUID) -> str:
    """A saq job key: unique per processing attempt."""
    return f"document:{document_id}:{uuid.uuid4().hex[:8]}"
