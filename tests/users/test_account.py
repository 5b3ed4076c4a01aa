"""The signed-in user's own account: updateProfile (each rule, nothing written on a refusal),
updatePreferences (merged over defaults), changePassword (needs the current one, signs out the other
sessions) and deleteAccount (needs the password; afterwards the account can do nothing)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from tests import factories
from tests.factories import gid
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.users.flows import (
    CHANGE_PASSWORD,
    DELETE_ACCOUNT,
    PREFERENCES_FIELDS,
    UPDATE_PREFERENCES,
    UPDATE_PROFILE,
    codes,
    login,
    refresh,
    refused,
    signed_in,
    unauthenticated,
)

NEW_PASSWORD = "Fresh-Start-42"


async def update_profile(client: GraphQLClient, user: SignedUp, **fields: Any) -> dict[str, Any]:
    return (await client.data(UPDATE_PROFILE, {"input": fields}, token=user.token))["updateProfile"]


async def update_preferences(client: GraphQLClient, user: SignedUp, **fields: Any) -> dict[str, Any]:
    return (await client.data(UPDATE_PREFERENCES, {"input": fields}, token=user.token))["updatePreferences"]


async def change_password(client: GraphQLClient, token: str, current: str, new: str) -> dict[str, Any]:
    return (
        await client.data(CHANGE_PASSWORD, {"input": {"currentPassword": current, "newPassword": new}}, token=token)
    )["changePassword"]


async def delete_account(client: GraphQLClient, user: SignedUp, password: str = PASSWORD) -> dict[str, Any]:
    return (await client.data(DELETE_ACCOUNT, {"input": {"password": password}}, token=user.token))["deleteAccount"]


async def user_row(pg: asyncpg.Connection, user: SignedUp) -> dict[str, Any]:
    return dict(await pg.fetchrow("SELECT * FROM users WHERE id = $1", user.pk))


# --- updateProfile -------------------------------------------------------------------------------------


async def test_update_profile_changes_only_the_given_fields(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    before = await user_row(pg, user)
    answer = await update_profile(
        client,
        user,
        firstName="  Grace ",
        businessName="Hopper & Co",
        businessType="CONSULTING",
        phone="+61 2 9999 0000",
        timezone="Europe/London",
    )
    assert answer["errors"] == []
    assert answer["user"]["firstName"] == "Grace"
    assert answer["user"]["lastName"] == "Lovelace"  # not given: unchanged
    assert answer["user"]["businessType"] == "CONSULTING"
    row = await user_row(pg, user)
    assert (
        row["first_name"],
        row["last_name"],
        row["business_name"],
        row["business_type"],
        row["phone"],
        row["timezone"],
    ) == ("Grace", "Lovelace", "Hopper & Co", "consulting", "+61299990000", "Europe/London")
    assert row["updated_at"] > before["updated_at"]


async def test_update_profile_clears_optional_fields(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    await update_profile(client, user, businessName="Shop", businessType="RETAIL", phone="+61299990000")
    answer = await update_profile(client, user, businessName="", businessType=None, phone="")
    assert answer["errors"] == []
    row = await user_row(pg, user)
    assert (row["business_name"], row["business_type"], row["phone"]) == (None, None, None)


async def test_omitting_business_type_keeps_it(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    await update_profile(client, user, businessType="LEGAL")
    await update_profile(client, user, firstName="Ada")
    assert (await user_row(pg, user))["business_type"] == "legal"


RULES = [
    ("firstName", "", "REQUIRED"),
    ("firstName", "   ", "REQUIRED"),
    ("firstName", "x" * 101, "TOO_LONG"),
    ("lastName", "", "REQUIRED"),
    ("lastName", "y" * 101, "TOO_LONG"),
    ("businessName", "b" * 256, "TOO_LONG"),
    ("phone", "12345", "INVALID_PHONE"),
    ("phone", "+61 abc", "INVALID_PHONE"),
    ("phone", "+0123456789", "INVALID_PHONE"),
    ("timezone", "Mars/Olympus_Mons", "INVALID_TIMEZONE"),
    ("timezone", "", "INVALID_TIMEZONE"),
]


@pytest.mark.parametrize(("field", "value", "code"), RULES)
async def test_each_profile_rule_refuses_and_writes_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, field: str, value: str, code: str
) -> None:
    before = await user_row(pg, user)
    valid_companion = {"lastName": "Would-Be-Written"} if field != "lastName" else {"firstName": "Would-Be"}
    answer = await update_profile(client, user, **{field: value, **valid_companion})
    assert answer["user"] is None
    assert codes(answer) == {f"input.{field}": code}
    assert all(error["message"] for error in answer["errors"])
    assert await user_row(pg, user) == before


async def test_every_profile_violation_is_reported_together(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    before = await user_row(pg, user)
    # Two stages: the door's violations (lengths) together, then, once past it, the use case's together.
    answer = await update_profile(
        client, user, firstName="", lastName="l" * 101, businessName="b" * 256, phone="999", timezone="Nowhere/Town"
    )
    assert codes(answer) == {"input.lastName": "TOO_LONG", "input.businessName": "TOO_LONG"}
    answer = await update_profile(
        client, user, firstName="", lastName="l", businessName="b", phone="999", timezone="Nowhere/Town"
    )
    assert codes(answer) == {
        "input.firstName": "REQUIRED",
        "input.phone": "INVALID_PHONE",
        "input.timezone": "INVALID_TIMEZONE",
    }
    assert await user_row(pg, user) == before


async def test_names_of_exactly_100_characters_are_accepted(client: GraphQLClient, user: SignedUp) -> None:
    answer = await update_profile(client, user, firstName="f" * 100, lastName="l" * 100)
    assert answer["errors"] == [] and answer["user"]["firstName"] == "f" * 100


# --- updatePreferences ----------------------------------------------------------------------------------

DEFAULTS = {
    "notifications": {"email": True, "push": True, "sms": False},
    "ai": {"personality": "PROFESSIONAL", "proactiveMode": False, "autoSuggestions": True},
    "integrations": {"autoConnect": False, "defaultCalendar": None, "defaultEmail": None},
}


async def test_preferences_merge_over_what_is_stored(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    first = await update_preferences(client, user, notifications={"sms": True})
    assert first["errors"] == []
    assert first["user"]["preferences"] == {**DEFAULTS, "notifications": {"email": True, "push": True, "sms": True}}

    second = await update_preferences(
        client, user, ai={"personality": "FRIENDLY"}, integrations={"defaultCalendar": "work"}
    )
    preferences = second["user"]["preferences"]
    assert preferences["notifications"]["sms"] is True  # the earlier change stays
    assert preferences["ai"] == {"personality": "FRIENDLY", "proactiveMode": False, "autoSuggestions": True}
    assert preferences["integrations"] == {"autoConnect": False, "defaultCalendar": "work", "defaultEmail": None}

    stored = json.loads(await pg.fetchval("SELECT preferences FROM users WHERE id = $1", user.pk))
    assert stored["ai"]["personality"] == "friendly"
    assert stored["notifications"] == {"email": True, "push": True, "sms": True}
    viewer = (await client.data(f"{{ viewer {{ {PREFERENCES_FIELDS} }} }}", token=user.token))["viewer"]
    assert viewer["preferences"] == preferences


async def test_preferences_fill_in_defaults_for_an_account_stored_without_them(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    await pg.execute("UPDATE users SET preferences = '{}'::jsonb WHERE id = $1", user.pk)
    answer = await update_preferences(client, user, ai={"proactiveMode": True})
    assert answer["user"]["preferences"] == {**DEFAULTS, "ai": {**DEFAULTS["ai"], "proactiveMode": True}}
    stored = json.loads(await pg.fetchval("SELECT preferences FROM users WHERE id = $1", user.pk))
    assert stored["notifications"] == {"email": True, "push": True, "sms": False}


async def test_personality_is_an_enum(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    before = await user_row(pg, user)
    body = await client.execute(UPDATE_PREFERENCES, {"input": {"ai": {"personality": "SARCASTIC"}}}, token=user.token)
    assert body.get("data") is None and "SARCASTIC" in body["errors"][0]["message"]
    assert await user_row(pg, user) == before
    enum = (await client.data('{ __type(name: "AiPersonality") { enumValues { name } } }'))["__type"]
    assert {value["name"] for value in enum["enumValues"]} == {"PROFESSIONAL", "FRIENDLY", "CONCISE"}


# --- changePassword ---------------------------------------------------------------------------------------


async def test_change_password_needs_the_current_one(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    before = await user_row(pg, user)
    answer = await change_password(client, user.token, "Not-The-Pass1", NEW_PASSWORD)
    assert answer["user"] is None
    assert codes(answer) == {"input.currentPassword": "INVALID_CREDENTIALS"}
    assert await user_row(pg, user) == before
    signed_in(await login(client, user.email, PASSWORD))
    signed_in(await refresh(client, user.refresh_token))


@pytest.mark.parametrize("new", ["short1A", "alllowercase1", "NoDigitsHere", "UPPER-ONLY-9"])
async def test_change_password_refuses_a_weak_new_one(client: GraphQLClient, user: SignedUp, new: str) -> None:
    assert codes(await change_password(client, user.token, PASSWORD, new)) == {"input.newPassword": "WEAK_PASSWORD"}
    signed_in(await login(client, user.email, PASSWORD))


async def test_change_password_reports_both_problems_at_once(client: GraphQLClient, user: SignedUp) -> None:
    answer = await change_password(client, user.token, "wrong", "weak")
    assert codes(answer) == {"input.currentPassword": "INVALID_CREDENTIALS", "input.newPassword": "WEAK_PASSWORD"}


async def test_change_password_signs_out_the_other_sessions_but_not_this_one(
    client: GraphQLClient, user: SignedUp
) -> None:
    laptop = signed_in(await login(client, user.email, PASSWORD))
    phone = signed_in(await login(client, user.email, PASSWORD))

    answer = await change_password(client, laptop["accessToken"], PASSWORD, NEW_PASSWORD)
    assert answer["errors"] == [] and answer["user"]["id"] == user.id

    refused(await login(client, user.email, PASSWORD), "INVALID_CREDENTIALS")
    signed_in(await login(client, user.email, NEW_PASSWORD))
    refused(await refresh(client, user.refresh_token), "UNAUTHENTICATED")
    refused(await refresh(client, phone["refreshToken"]), "UNAUTHENTICATED")
    kept = signed_in(await refresh(client, laptop["refreshToken"]))  # the session that changed it
    signed_in(await refresh(client, kept["refreshToken"]))


# --- deleteAccount ------------------------------------------------------------------------------------------


async def test_delete_account_needs_the_password(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    answer = await delete_account(client, user, "Wrong-Pass-1")
    assert codes(answer) == {"input.password": "INVALID_CREDENTIALS"}
    assert (await user_row(pg, user))["deleted_at"] is None
    signed_in(await login(client, user.email, PASSWORD))


async def test_a_deleted_account_can_do_nothing(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    user = await client.register()
    other = signed_in(await login(client, user.email, PASSWORD))
    session = await factories.session(pg, user.pk, title="kept until the purge")
    assert (
        await client.data(
            "query($id: ID!) { node(id: $id) { id } }", {"id": gid("ChatSession", session)}, token=user.token
        )
    )["node"] is not None

    assert (await delete_account(client, user))["errors"] == []

    # The row stays (for the retention purge), marked deleted.
    row = await user_row(pg, user)
    assert row["deleted_at"] is not None and row["email"] == user.email
    # Sign-in is refused exactly as for an unknown account.
    refused_login = refused(await login(client, user.email, PASSWORD), "INVALID_CREDENTIALS")
    unknown = refused(
        await login(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com", PASSWORD), "INVALID_CREDENTIALS"
    )
    assert refused_login == unknown
    # Every session ended.
    for refresh_token in (user.refresh_token, other["refreshToken"]):
        refused(await refresh(client, refresh_token), "UNAUTHENTICATED")
    # The access token still in hand belongs to an ended session: refused at once, for reads...
    reads = [
        ("{ viewer { id } }", {}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": user.id}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": gid("ChatSession", session)}),
        ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [user.id, gid("ChatSession", session)]}),
        ("{ agents { totalCount } }", {}),
    ]
    for query, variables in reads:
        body = await client.execute(query, variables, token=user.token)
        assert unauthenticated(body) and not body.get("data"), query
    # ...and writes: it changes nothing.
    attempts = [
        (UPDATE_PROFILE, {"input": {"firstName": "Ghost"}}),
        (UPDATE_PREFERENCES, {"input": {"notifications": {"sms": True}}}),
        (CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}),
        (DELETE_ACCOUNT, {"input": {"password": PASSWORD}}),
    ]
    for query, variables in attempts:
        assert unauthenticated(await client.execute(query, variables, token=user.token)), query
    assert (await user_row(pg, user))["first_name"] == "Ada"
    # The email stays taken until the purge, in any case.
    taken = (
        await client.data(
            """mutation($input: RegisterInput!) { register(input: $input) { user { id } errors { field code } } }""",
            {"input": {"email": user.email.upper(), "password": PASSWORD, "firstName": "A", "lastName": "B"}},
        )
    )["register"]
    assert taken == {"user": None, "errors": [{"field": "input.email", "code": "ALREADY_EXISTS"}]}
