"""`gateway seed-demo`: one demo account with data that makes GraphiQL worth opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from gateway.db import create_engine
from gateway.settings import get_settings
from models import ChatSession, Document, Integration, MCPAgent, Message, Task, User
from models.agents import AgentConfig, RateLimitConfig
from models.tasks import TaskMeta, TaskPriority
from models.users import default_preferences
from services.crypto import SecretBox, dev_secret_box
from services.passwords import hash_password

DEMO_EMAIL = "demo@assistant.example"
DEMO_PASSWORD = "Demo-Passw0rd"

CONVERSATIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Chasing the Henderson invoice",
        [
            ("user", "Henderson Plumbing still hasn't paid invoice #1042. Can you draft a reminder?"),
            ("assistant", "Here's a polite reminder noting the invoice was due on the 3rd, with the payment link."),
            ("user", "Make it a bit firmer and mention the late fee."),
            ("assistant", "Updated: the reminder now states the 2% late fee from next Friday."),
        ],
    ),
    (
        "Planning next week's roster",
        [
            ("user", "Who is free on Tuesday afternoon for the Parramatta job?"),
            ("assistant", "Priya and Tom have no bookings after 1 pm on Tuesday."),
            ("user", "Book Priya and send her the site address."),
            ("assistant", "Done: Priya is booked 1-5 pm and has the address by SMS."),
        ],
    ),
    (
        "GST quarter summary",
        [
            ("user", "Summarise GST collected and paid this quarter."),
            ("assistant", "GST collected $8,420, GST paid $3,115: $5,305 payable for the BAS."),
        ],
    ),
    (
        "New client onboarding - Bloom Florists",
        [
            ("user", "Bloom Florists signed. Set up a folder and a welcome email."),
            ("assistant", "Created the client folder and drafted a welcome email with the intake form."),
            ("user", "Schedule a kickoff call for Thursday 10 am."),
            ("assistant", "Kickoff booked for Thursday 10:00 and invite sent to Jess at Bloom."),
        ],
    ),
]

AGENTS: list[dict[str, Any]] = [
    {
        "name": "calendar-assistant",
        "description": "Finds free time and books meetings.",
        "endpoint": "http://127.0.0.1:8101/mcp",
        "version": "1.4.0",
        "health_status": "healthy",
        "capabilities": [
            {
                "name": "find_free_slots",
                "description": "Free slots for a list of people",
                "inputSchema": {"type": "object", "properties": {"people": {"type": "array"}}},
                "outputSchema": {"type": "object"},
            }
        ],
        "configuration": AgentConfig(
            timeout=10_000, retries=2, rate_limit=RateLimitConfig(requests=60, window=60)
        ).dump(),
    },
    {
        "name": "invoice-tools",
        "description": "Reads and drafts invoices.",
        "endpoint": "http://127.0.0.1:8102/mcp",
        "version": "0.9.2",
        "health_status": "unknown",
        "capabilities": [
            {
                "name": "draft_reminder",
                "description": "Draft a payment reminder",
                "inputSchema": {
                    "type": "object",
                    "properties": {"invoice": {"type": "string"}},
                    "required": ["invoice"],
                },
                "outputSchema": None,
            }
        ],
        "configuration": AgentConfig(timeout=30_000, retries=1).dump(),
    },
]


async def _demo_user(connection: AsyncConnection) -> bool:
    found = await connection.execute(select(col(User.id)).where(col(User.email) == DEMO_EMAIL))
    return found.first() is not None


async def seed(database_url: str) -> bool:
    """Create the demo account and its data; False if it already exists."""
    settings = get_settings()
    box = (
        SecretBox.from_setting(settings.encryption_keys)
        if settings.encryption_keys
        else dev_secret_box(settings.data_dir)
    )
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            if await _demo_user(connection):
                return False
            await _insert(connection, box)
        return True
    finally:
        await engine.dispose()


async def _insert(connection: AsyncConnection, box: SecretBox) -> None:
    now = datetime.now(UTC)
    user_id = (
        await connection.execute(
            insert(User)
            .values(
                email=DEMO_EMAIL,
                password_hash=hash_password(DEMO_PASSWORD),
                first_name="Sam",
                last_name="Nguyen",
                business_name="Nguyen Electrical",
                business_type="trades",
                phone="+61290000000",
                preferences=default_preferences(),
                email_verified=True,
                email_verified_at=now,
            )
            .returning(col(User.id))
        )
    ).scalar_one()
    agent_ids = []
    for agent in AGENTS:
        named = select(col(MCPAgent.id)).where(col(MCPAgent.name) == agent["name"])
        existing = (await connection.execute(named)).first()
        agent_ids.append(
            existing[0]
            if existing
            else (await connection.execute(insert(MCPAgent).values(**agent).returning(col(MCPAgent.id)))).scalar_one()
        )
    session_ids = []
    for index, (title, lines) in enumerate(CONVERSATIONS):
        started = now - timedelta(days=len(CONVERSATIONS) - index, hours=3)
        session_id = (
            await connection.execute(
                insert(ChatSession)
                .values(
                    user_id=user_id,
                    title=title,
                    message_count=len(lines),
                    last_activity_at=started + timedelta(minutes=2 * len(lines)),
                    created_at=started,
                    context_data={"businessContext": {"taskType": "admin"}},
                )
                .returning(col(ChatSession.id))
            )
        ).scalar_one()
        session_ids.append(session_id)
        await connection.execute(
            insert(Message),
            [
                {
                    "session_id": session_id,
                    "role": role,
                    "content": content,
                    "seq": position + 1,
                    "timestamp": started + timedelta(minutes=2 * position),
                    "meta": {
                        "aiMetadata": {
                            "model": "assistant-1",
                            "temperature": 0.3,
                            "confidence": 0.9,
                            "intent": "admin",
                            "entities": [],
                        }
                    }
                    if role == "assistant"
                    else {},
                }
                for position, (role, content) in enumerate(lines)
            ],
        )
    await connection.execute(
        insert(Document),
        [
            {
                "user_id": user_id,
                "filename": f"{stem}.pdf",
                "original_filename": f"{stem}.pdf",
                "title": title,
                "category": category,
                "tags": tags,
                "mime_type": "application/pdf",
                "file_size": size,
                "file_path": f"demo/{stem}.pdf",
                "content_text": text,
                "processing_status": "completed",
                "processed_at": now,
                "extracted_data": {"summary": text, "keyTerms": tags},
            }
            for stem, title, category, tags, size, text in [
                (
                    "invoice-1042",
                    "Invoice 1042 - Henderson Plumbing",
                    "invoices",
                    ["unpaid", "henderson"],
                    48_213,
                    "Invoice 1042 for switchboard upgrade, $2,310 inc GST, due 3 March.",
                ),
                (
                    "bloom-contract",
                    "Bloom Florists service agreement",
                    "contracts",
                    ["client", "bloom"],
                    182_004,
                    "Twelve month maintenance agreement with Bloom Florists.",
                ),
                (
                    "bas-q3",
                    "BAS Q3 working paper",
                    "tax",
                    ["gst", "bas"],
                    96_550,
                    "GST collected 8,420; GST paid 3,115; net payable 5,305.",
                ),
            ]
        ],
    )
    await connection.execute(
        insert(Integration).values(
            user_id=user_id,
            provider="google_calendar",
            provider_user_id="sam@nguyen-electrical.example",
            encrypted_tokens=box.encrypt("demo-access-token", context="google_calendar"),
            scopes=["calendar.readonly"],
            capabilities=["read_events"],
            meta={"email": "sam@nguyen-electrical.example", "displayName": "Sam Nguyen"},
        )
    )
    await connection.execute(
        insert(Task),
        [
            {
                "user_id": user_id,
                "agent_id": agent_ids[index % len(agent_ids)],
                "session_id": session_ids[index],
                "task_type": task_type,
                "input_payload": payload,
                "output_payload": output,
                "status": status,
                "started_at": now - timedelta(hours=index + 1),
                "retry_count": 0,
                "completed_at": now - timedelta(hours=index) if status == "completed" else None,
                "processing_time_ms": 840 if status == "completed" else None,
                "meta": TaskMeta(priority=TaskPriority.MEDIUM).dump(),
            }
            for index, (task_type, payload, output, status) in enumerate(
                [
                    ("find_free_slots", {"people": ["Priya", "Tom"]}, {"slots": ["Tue 13:00"]}, "completed"),
                    ("draft_reminder", {"invoice": "1042"}, {"draft": "Dear Henderson Plumbing..."}, "completed"),
                    ("find_free_slots", {"people": ["Jess"]}, None, "failed"),
                    ("draft_reminder", {"invoice": "1043"}, None, "pending"),
                ]
            )
        ],
    )
