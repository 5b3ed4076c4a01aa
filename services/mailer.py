"""Outgoing mail: SMTP when GATEWAY_SMTP_URL is set, otherwise `.eml` files in `<data dir>/outbox`
that a developer can open."""

from __future__ import annotations

import asyncio
import os
import smtplib
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlparse

SENDER = "Assistant Gateway <no-reply@assistant.invalid>"


class Mailer:
    def __init__(self, *, smtp_url: str | None, outbox: Path) -> None:
        self.smtp_url = smtp_url
        self.outbox = outbox

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, to, subject
        message.set_content(body)
        if self.smtp_url:
            await asyncio.to_thread(self._smtp, message)
        else:
            await asyncio.to_thread(self._file, message)

    def _smtp(self, message: EmailMessage) -> None:
        url = urlparse(self.smtp_url or "")
        client_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with client_class(url.hostname or "localhost", url.port or 0, timeout=10) as client:
            if url.scheme == "smtp+starttls":
                client.starttls()
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)

    def _file(self, message: EmailMessage) -> None:
        # Mails carry one-time codes (password resets): readable by the server's user only, from
        # the moment the file exists (created with its mode, not chmod-ed after).
        self.outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        descriptor = os.open(self.outbox / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(bytes(message))
