"""Mail goes out over real SMTP (aiosmtpd on loopback) after the database work is over (habit 10): while the
mail server sits on a verification or reset mail, the gateway holds no connection idle in transaction; a
verification mail the server refuses is answered UNAVAILABLE and changes nothing, while a reset request
answers the same whether the mail went out or not (it must not tell whether the account exists)."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from graph.app import create_app
from services.mailer import Mailer
from services.resources import Resources
from tests.graphql_client import GraphQLClient
from tests.users.flows import REQUEST_RESET, REQUEST_VERIFICATION, VERIFY_EMAIL, VIEWER, code_in

HELD_SECONDS = 8.0  # how long a test may keep the mail server sitting on a mail


class MailServer:
    """What the SMTP server received; `hold()` makes it sit on the next mail until `release(answer)`."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.sitting = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._answer = "250 OK"

    def hold(self) -> None:
        self._go.clear()
        self.sitting.clear()

    def release(self, answer: str) -> None:
        self._answer = answer
        self._go.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.sitting.set()
        await asyncio.to_thread(self._go.wait, HELD_SECONDS)
        if self._answer.startswith("250"):
            self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return self._answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mail_server() -> Iterator[tuple[MailServer, str]]:
    handler = MailServer()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        handler.release("250 OK")
        controller.stop()


@pytest.fixture
async def mailing_client(
    resources: Resources, mail_server: tuple[MailServer, str], tmp_path: Any
) -> AsyncIterator[GraphQLClient]:
    """The gateway with its mail going to the loopback SMTP server."""
    mailer = Mailer(smtp_url=mail_server[1], outbox=tmp_path / "unused-outbox")
    async with GraphQLClient.over_asgi(create_app(dataclasses.replace(resources, mailer=mailer))) as client:
        yield client


async def idle_in_transaction(pg: asyncpg.Connection) -> int:
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
        )
    )


async def _while_sitting(server: MailServer, pg: asyncpg.Connection) -> None:
    """Wait until the server sits on the mail, then look at the database's connections."""
    assert await asyncio.to_thread(server.sitting.wait, 5), "the mail never reached the server"
    assert await idle_in_transaction(pg) == 0


async def test_a_verification_mail_goes_out_over_smtp_and_its_code_verifies(
    mailing_client: GraphQLClient, mail_server: tuple[MailServer, str]
) -> None:
    server, _ = mail_server
    user = await mailing_client.register()
    payload = (await mailing_client.data(REQUEST_VERIFICATION, token=user.token))["requestEmailVerification"]
    assert payload["errors"] == []
    [mail] = [message for message in server.received if message["To"] == user.email]
    verified = (await mailing_client.data(VERIFY_EMAIL, {"input": {"token": code_in(mail)}}))["verifyEmail"]
    assert verified["errors"] == [] and verified["user"]["emailVerified"] is True


async def test_no_transaction_waits_on_the_mail_server_and_a_refused_mail_is_unavailable(
    mailing_client: GraphQLClient, mail_server: tuple[MailServer, str], pg: asyncpg.Connection
) -> None:
    server, _ = mail_server
    user = await mailing_client.register()
    server.hold()
    asking = asyncio.ensure_future(mailing_client.data(REQUEST_VERIFICATION, token=user.token))
    await _while_sitting(server, pg)
    # The account's row is not held either: the user's other writes go through meanwhile.
    renamed = await asyncio.wait_for(
        pg.execute("UPDATE users SET first_name = 'Grace' WHERE email = $1", user.email), timeout=3
    )
    assert renamed == "UPDATE 1"
    server.release("451 4.3.0 mailbox temporarily unavailable")
    payload = (await asyncio.wait_for(asking, HELD_SECONDS))["requestEmailVerification"]
    assert [error["code"] for error in payload["errors"]] == ["UNAVAILABLE"]
    assert "451" not in str(payload) and "smtp" not in str(payload).lower()
    viewer = (await mailing_client.data(VIEWER, token=user.token))["viewer"]
    assert viewer["emailVerified"] is False and viewer["firstName"] == "Grace"


@pytest.mark.parametrize("answer", ["250 OK", "554 5.7.1 refused"])
async def test_a_reset_request_answers_alike_whether_or_not_the_mail_went_out(
    mailing_client: GraphQLClient, mail_server: tuple[MailServer, str], pg: asyncpg.Connection, answer: str
) -> None:
    server, _ = mail_server
    user = await mailing_client.register()
    unknown = await mailing_client.data(REQUEST_RESET, {"input": {"email": "nobody-here@example.com"}})
    server.hold()
    asking = asyncio.ensure_future(mailing_client.data(REQUEST_RESET, {"input": {"email": user.email}}))
    await _while_sitting(server, pg)
    server.release(answer)
    known = await asyncio.wait_for(asking, HELD_SECONDS)
    assert known == unknown == {"requestPasswordReset": {"errors": []}}
    delivered = [message for message in server.received if message["To"] == user.email]
    assert len(delivered) == (1 if answer.startswith("250") else 0)
