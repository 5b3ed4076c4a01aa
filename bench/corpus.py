"""Plausible small-business assistant text, generated from templates with a seeded RNG.

Realistic sizes matter more than realistic meaning: the nested query ships message bodies, so their
length distribution (short questions, longer answers, an occasional long draft) drives response size,
JSON encoding time and memory, which is what the bench measures.
"""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Olivia",
    "Noah",
    "Charlotte",
    "Jack",
    "Amelia",
    "William",
    "Isla",
    "Oliver",
    "Mia",
    "Leo",
    "Ava",
    "Henry",
    "Grace",
    "Lucas",
    "Chloe",
    "Thomas",
    "Zoe",
    "James",
    "Ruby",
    "Ethan",
    "Priya",
    "Wei",
    "Aisha",
    "Mateo",
    "Sofia",
    "Kenji",
    "Fatima",
    "Liam",
    "Hannah",
    "Arjun",
)
LAST_NAMES = (
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Nguyen",
    "Johnson",
    "Martin",
    "White",
    "Anderson",
    "Walker",
    "Thompson",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
    "Patel",
    "Chen",
    "Singh",
    "Murphy",
    "O'Brien",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Silva",
    "Clarke",
)
BUSINESS_WORDS = (
    "Harbour",
    "Southern Cross",
    "Bluegum",
    "Coastal",
    "Redback",
    "Wattle",
    "Summit",
    "Ironbark",
    "Bright",
    "Northside",
    "Greenway",
    "Kestrel",
    "Lighthouse",
    "Copper",
    "Riverbend",
    "Sunrise",
)
BUSINESS_KINDS = {
    "accounting": ("Accounting", "Bookkeeping", "Tax Advisory"),
    "construction": ("Builders", "Constructions", "Renovations"),
    "consulting": ("Consulting", "Advisory", "Partners"),
    "healthcare": ("Physio", "Dental", "Medical Centre"),
    "hospitality": ("Cafe", "Kitchen", "Catering"),
    "legal": ("Legal", "Lawyers", "Conveyancing"),
    "marketing": ("Creative", "Digital", "Media"),
    "real_estate": ("Realty", "Property Group", "Estate Agents"),
    "retail": ("Store", "Supplies", "Boutique"),
    "technology": ("Software", "IT Services", "Labs"),
    "trades": ("Plumbing", "Electrical", "Landscaping"),
    "transport": ("Logistics", "Couriers", "Freight"),
}
TIMEZONES = (
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Perth",
    "Pacific/Auckland",
    "Europe/London",
    "America/New_York",
)

CLIENTS = (
    "Acme Pty Ltd",
    "the Hendersons",
    "Bayside Council",
    "Dr Lim",
    "Coastline Motors",
    "the school P&C",
    "Greenleaf Organics",
    "Mr Okafor",
    "Tran Family Trust",
    "Northern Rivers Co-op",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "the 14th", "end of month")

USER_PROMPTS = (
    "Can you draft a follow-up email to {client} about the overdue invoice #{num}?",
    "What's on my calendar for {day}? I need to fit in a site visit.",
    "Summarise the contract I uploaded yesterday, especially the termination clause.",
    "Book a 30 minute call with {client} on {day} afternoon.",
    "How much GST did we collect last quarter?",
    "Remind me to chase {client} for the signed quote on {day}.",
    "Write a short Google review reply thanking {client} for the feedback.",
    "Which invoices are more than 30 days overdue?",
    "Can you turn these notes into a proposal outline? Scope: fit-out, electrical, {num} sqm.",
    "Find the email from {client} about the delivery delay and draft a polite answer.",
    "What did we agree with {client} in our last meeting?",
    "Move my {day} 10am to later in the day if possible.",
    "Create a task to renew the business insurance before the {day}.",
    "Draft a job ad for a part-time bookkeeper, 3 days a week.",
    "Compare this month's revenue with the same month last year.",
    "ok thanks",
    "Perfect, send it.",
    "Can you make it a bit more formal?",
)
ASSISTANT_SENTENCES = (
    "I've drafted the email below; have a look before I send it.",
    "You have three appointments on {day}: a team stand-up at 9:00, a call with {client} at 11:30 and a site visit at 15:00.",
    "The termination clause allows either party to end the agreement with 30 days' written notice, but early termination by you triggers a fee of two months' service charges.",
    "Invoice #{num} for {client} was issued 42 days ago and is still unpaid.",
    "I've created a reminder and linked it to this conversation so you can find it later.",
    "Based on the uploaded statements, GST collected last quarter was ${num}.40, and GST paid on purchases was ${num}.15.",
    "Here is a friendly but firm version that mentions the payment terms on the original quote.",
    "I couldn't find a free hour on {day}, but Thursday from 14:00 to 16:00 is open.",
    "The proposal outline has five sections: background, scope of works, timeline, pricing and terms.",
    "{client} replied on Tuesday saying the parts are back-ordered until the end of the month.",
    "Revenue this month is up 12% on the same month last year, mostly from repeat customers.",
    "I've moved the meeting to 14:30 and let the attendees know.",
    "Let me know if you'd like me to add a payment link or attach a copy of the invoice.",
    "I've tagged the document as 'contracts' and 'insurance' so it shows up in searches.",
    "Would you like me to schedule a follow-up if there is no reply within five business days?",
    "Heads-up: the quote for {client} expires on {day}, so it may be worth a nudge before then.",
)
SYSTEM_PROMPTS = (
    "You are a helpful administrative assistant for a small business. Be concise and professional.",
    "You are the assistant of {business}. Use Australian English and the business's timezone.",
)
EMAIL_DRAFT = (
    "\n\nHi {client},\n\nI hope you're well. I'm writing about invoice #{num}, which fell due on the "
    "{day}. Our records show it is still outstanding. If it has already been paid, please ignore this "
    "note; otherwise we would appreciate payment within the next seven days. The invoice and our bank "
    "details are attached for convenience.\n\nKind regards,\n{name}"
)
SESSION_TITLES = (
    "Overdue invoices",
    "Calendar planning for {day}",
    "Contract review: {client}",
    "Quarterly GST",
    "Proposal for {client}",
    "Hiring a bookkeeper",
    "Supplier delays",
    "Insurance renewal",
    "Customer reviews",
    "Weekly admin",
    "Meeting notes with {client}",
    "Cash flow check",
)
DOCUMENT_KINDS = (
    ("contract", "application/pdf", "pdf", "Service agreement with {client}"),
    ("invoice", "application/pdf", "pdf", "Invoice #{num} — {client}"),
    ("quote", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "Quote for {client}"),
    ("notes", "text/plain", "txt", "Meeting notes {day}"),
    ("policy", "application/msword", "doc", "Workplace health and safety policy"),
)
TAGS = (
    "contracts",
    "invoices",
    "clients",
    "tax",
    "insurance",
    "hr",
    "suppliers",
    "quotes",
    "urgent",
    "archive",
    "2025",
    "2026",
)
AGENT_KINDS = (
    ("calendar", "Schedules, moves and cancels calendar events."),
    ("email", "Drafts, sends and searches email."),
    ("invoicing", "Creates invoices and checks payment status."),
    ("crm", "Looks up and updates customer records."),
    ("documents", "Searches and summarises uploaded documents."),
    ("payroll", "Prepares pay runs and leave balances."),
    ("web-search", "Searches the public web for business information."),
    ("reviews", "Monitors and drafts replies to online reviews."),
    ("inventory", "Tracks stock levels and reorders."),
    ("bank-feeds", "Reconciles bank transactions."),
    ("forms", "Fills in government and supplier forms."),
    ("translation", "Translates customer messages."),
)
MODELS = ("gpt-4o-mini", "claude-sonnet", "llama-3.1-70b")
INTENTS = ("draft_email", "schedule_meeting", "summarise_document", "query_finance", "create_task", "small_talk")


class Corpus:
    """Text generator bound to one RNG so a seed is reproducible."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _fill(self, template: str, **extra: str) -> str:
        rng = self.rng
        return template.format(
            client=rng.choice(CLIENTS),
            day=rng.choice(DAYS),
            num=str(rng.randint(100, 9999)),
            business=extra.get("business", "the business"),
            name=extra.get("name", "Alex"),
        )

    def user_message(self) -> str:
        return self._fill(self.rng.choice(USER_PROMPTS))

    def assistant_message(self, name: str) -> str:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 6), weights=(15, 30, 30, 15, 10))[0]
        text = " ".join(self._fill(rng.choice(ASSISTANT_SENTENCES)) for _ in range(count))
        if rng.random() < 0.12:  # an occasional full draft makes the long tail of message sizes
            text += self._fill(EMAIL_DRAFT, name=name)
        return text

    def system_message(self, business: str) -> str:
        return self._fill(self.rng.choice(SYSTEM_PROMPTS), business=business)

    def session_title(self) -> str:
        return self._fill(self.rng.choice(SESSION_TITLES))

    def document_title(self, template: str) -> str:
        return self._fill(template)

    def document_text(self) -> str:
        rng = self.rng
        return " ".join(self._fill(rng.choice(ASSISTANT_SENTENCES)) for _ in range(rng.randint(8, 40)))
