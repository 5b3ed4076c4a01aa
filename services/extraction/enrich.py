"""What a document's text says, in the shape of `extractedData`: its language (py3langid), key terms
(yake), entities with character offsets into the text (DATE via dateparser, MONEY, EMAIL, PHONE by
pattern), a short extractive summary, and the dates and action items a small business acts on.

Only the first `ANALYSED_CHARS` characters are analysed: the analysis is for finding and skimming, and
its cost must not grow with a 1,000-page file."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dateparser
import py3langid
import yake

ANALYSED_CHARS = 100_000
MAX_ENTITIES = 200
MAX_KEY_TERMS = 10
MAX_ACTION_ITEMS = 10
MAX_DATES = 20
SUMMARY_SENTENCES = 3
SUMMARY_MAX_CHARS = 600
YAKE_LANGUAGES = frozenset({"en", "fr", "de", "es", "it", "pt", "nl"})

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+\b")
MONEY = re.compile(
    r"(?:[$€£¥]\s?\d{1,3}(?:[,\s]\d{3})*(?:\.\d{1,2})?|\b\d{1,3}(?:[,\s]\d{3})*(?:\.\d{1,2})?\s?(?:USD|AUD|EUR|GBP|NZD|CAD|dollars?|euros?)\b)"
)
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?\d{1,4}|\(\d{1,4}\)|\d{2,4})(?:[\s.-]\d{2,4}){2,4}(?![\w])")
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\.?,?\s+\d{{4}}"
    rf"|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b",
    re.IGNORECASE,
)
# A sentence ends at its punctuation, a blank line or a list item; a single line break inside a paragraph
# is only where a PDF wrapped the line.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
ACTION = re.compile(
    r"\b(?:please|must|shall|need to|needs to|required to|due (?:by|on|date)|deadline|sign and return|"
    r"action(?: item)?s?:|to do|todo|follow up|remember to|no later than)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entity:
    type: str
    value: str
    confidence: float
    start: int
    end: int

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "confidence": self.confidence,
            "startOffset": self.start,
            "endOffset": self.end,
        }


def language_of(text: str) -> str | None:
    sample = text[:5000].strip()
    if len(sample) < 20:
        return None
    code, _ = py3langid.classify(sample)
    return str(code)


def key_terms(text: str, language: str | None) -> list[str]:
    if len(text.strip()) < 20:
        return []
    extractor = yake.KeywordExtractor(
        lan=language if language in YAKE_LANGUAGES else "en", n=2, top=MAX_KEY_TERMS, dedup_lim=0.8
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = extractor.extract_keywords(text[:ANALYSED_CHARS])
    return [str(term) for term, _ in found][:MAX_KEY_TERMS]


def _date_value(raw: str, language: str | None) -> datetime | None:
    settings: dict[str, Any] = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "PREFER_DAY_OF_MONTH": "first"}
    languages = [language] if language else None
    try:
        parsed: datetime | None = dateparser.parse(raw, languages=languages, settings=settings)
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed is None or not 1900 <= parsed.year <= 2200:
        return None
    return parsed.astimezone(UTC)


def entities(text: str, language: str | None) -> tuple[list[Entity], list[datetime]]:
    """Every entity found (at most MAX_ENTITIES, in text order) and the dates they name."""
    sample = text[:ANALYSED_CHARS]
    found: list[Entity] = []
    dates: list[datetime] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for match in DATE.finditer(sample):
        when = _date_value(match.group(), language)
        if when is not None:
            found.append(Entity("DATE", when.date().isoformat(), 0.9, match.start(), match.end()))
            taken.append(match.span())
            dates.append(when)
    for kind, pattern, confidence in (("EMAIL", EMAIL, 0.95), ("MONEY", MONEY, 0.85), ("PHONE", PHONE, 0.7)):
        for match in pattern.finditer(sample):
            if free(*match.span()):
                value = match.group().strip()
                if kind == "PHONE" and sum(char.isdigit() for char in value) < 8:
                    continue
                found.append(Entity(kind, value, confidence, match.start(), match.start() + len(value)))
                taken.append(match.span())
    found.sort(key=lambda entity: entity.start)
    return found[:MAX_ENTITIES], dates


def sentences(text: str) -> Iterator[str]:
    for part in SENTENCE_END.split(text[:ANALYSED_CHARS]):
        sentence = " ".join(part.split())
        if len(sentence) >= 12:
            yield sentence


def summary(text: str, terms: list[str]) -> str | None:
    """The few sentences that carry the most key terms, in their original order."""
    candidates = list(sentences(text))[:2000]
    if not candidates:
        return None
    lowered = [term.lower() for term in terms]
    scored = sorted(
        range(len(candidates)),
        key=lambda index: (-sum(term in candidates[index].lower() for term in lowered), index),
    )
    chosen = sorted(scored[:SUMMARY_SENTENCES])
    result = " ".join(candidates[index] for index in chosen)
    return result if len(result) <= SUMMARY_MAX_CHARS else result[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"


def action_items(text: str) -> list[str]:
    items: list[str] = []
    for sentence in sentences(text):
        if ACTION.search(sentence) and sentence not in items:
            items.append(sentence[:300])
            if len(items) >= MAX_ACTION_ITEMS:
                break
    return items


def analyse(text: str) -> dict[str, Any]:
    """The analysed parts of `extractedData` (metadata other than language is the reader's)."""
    language = language_of(text)
    terms = key_terms(text, language)
    found, dates = entities(text, language)
    unique_dates = sorted({value.isoformat() for value in dates})[:MAX_DATES]
    business: dict[str, Any] = {}
    if unique_dates:
        business["dates"] = unique_dates
    actions = action_items(text)
    if actions:
        business["actionItems"] = actions
    data: dict[str, Any] = {
        "keyTerms": terms,
        "entities": [entity.as_json() for entity in found],
        "metadata": {"language": language},
    }
    described = summary(text, terms)
    if described:
        data["summary"] = described
    if business:
        data["businessContext"] = business
    return data
