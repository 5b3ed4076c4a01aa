"""What the gateway itself reads in a user's message for the reply's `aiMetadata`: the intent, the entities
(dates, amounts, contacts) and the follow-up suggestions. Done here, by rules, rather than by asking the
model: it costs no tokens, cannot be talked into anything by the message, and gives the same answer for
the same text (docs/decisions.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_ENTITIES = 20
MAX_SUGGESTIONS = 3

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+\b")),
    (
        "amount",
        re.compile(
            r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?[kKmM]\b)?)"
            r"|(?:\b\d[\d,]*(?:\.\d+)?\s?(?:USD|AUD|EUR|GBP|NZD|CAD|dollars?|euros?|pounds?)\b)",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b"
            rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b(?:\s+\d{{4}})?"
            rf"|\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
            rf"|\b(?:today|tomorrow|tonight|yesterday)\b|\b(?:next|this)\s+(?:week|month|{_WEEKDAYS})\b"
            rf"|\b(?:on\s+)?(?:{_WEEKDAYS})\b",
            re.IGNORECASE,
        ),
    ),
    ("phone", re.compile(r"(?<![\w/-])\+?\d[\d\s().-]{6,}\d(?![\w/-])")),
    ("contact", re.compile(r"\b(?:with|to|from|call|email|meet|invite)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\b")),
)

_INTENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("schedule_meeting", ("meeting", "schedule", "calendar", "appointment", "book ", "reschedule", "meet ")),
    ("send_email", ("email", "e-mail", "mail ", "reply to", "write to", "inbox")),
    ("billing", ("invoice", "payment", "pay ", "bill", "quote", "receipt", "overdue", "refund")),
    ("find_document", ("document", "contract", "file", "pdf", "agreement", "find ", "search")),
    ("create_task", ("remind", "to-do", "todo", "task", "follow up", "follow-up")),
)
_SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "schedule_meeting": ("Send a calendar invite", "Suggest another time", "Add an agenda"),
    "send_email": ("Draft the email", "Make it shorter", "Schedule it for tomorrow morning"),
    "billing": ("Create the invoice", "Send a payment reminder", "Show unpaid invoices"),
    "find_document": ("Summarise the document", "Show related documents", "Extract the key dates"),
    "create_task": ("Set a reminder", "Add it to my tasks", "Show my open tasks"),
    "question": ("Tell me more", "Give me an example"),
    "chat": (),
}


@dataclass(frozen=True)
class Reading:
    intent: str
    confidence: float
    entities: list[dict[str, Any]]


def entities_of(text: str) -> list[dict[str, Any]]:
    """Dates, amounts and contacts (names, emails, phones) in `text`, in order of appearance, each once,
    with their character offsets. Spans already taken by an earlier kind (an email's digits) are skipped."""
    found: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            group = 1 if match.lastindex else 0
            start, end = match.span(group)
            if any(start < stop and end > begin for begin, stop in taken):
                continue
            value = match.group(group).strip()
            taken.append((start, end))
            found.append({"type": kind, "value": value, "startOffset": start, "endOffset": end})
    found.sort(key=lambda entity: entity["startOffset"])
    unique: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for entity in found:
        key = (entity["type"], entity["value"].lower())
        if key not in seen:
            seen.add(key)
            unique.append(entity)
    return unique[:MAX_ENTITIES]


def read_message(text: str) -> Reading:
    lowered = f" {text.lower()} "
    for intent, keywords in _INTENTS:
        hits = sum(1 for keyword in keywords if keyword in lowered)
        if hits:
            return Reading(intent, round(min(0.95, 0.6 + 0.15 * hits), 2), entities_of(text))
    if text.strip().endswith("?"):
        return Reading("question", 0.5, entities_of(text))
    return Reading("chat", 0.3, entities_of(text))


def suggestions_for(intent: str, *, wanted: bool) -> list[str]:
    """0-3 follow-ups a client can offer as buttons; none when the user turned suggestions off."""
    if not wanted:
        return []
    return list(_SUGGESTIONS.get(intent, ()))[:MAX_SUGGESTIONS]
