"""GraphiQL as a developer meets it: `/graphql` opened in headless Chromium (Debian's chromium and
chromedriver, driven by Selenium) against a real `gateway serve`, with every asset served by the gateway
under its Content-Security-Policy. A query runs with a token typed into the headers editor, and a
`messageAdded` subscription started in the page shows a message another client sends."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graphql_client import PASSWORD, REGISTER
from tests.live import LiveServer, gateway_env, live_server

T = TypeVar("T")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# Reads and writes GraphiQL's editors through their CodeMirror instances, as typing would.
SET_EDITOR = """
const [selector, value] = arguments;
const editor = document.querySelector(selector);
if (!editor || !editor.CodeMirror) return false;
editor.CodeMirror.setValue(value);
return true;
"""
GET_EDITOR = """
const editor = document.querySelector(arguments[0]);
return editor && editor.CodeMirror ? editor.CodeMirror.getValue() : null;
"""
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".result-window .CodeMirror"


@pytest.fixture(scope="module")
def server(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = create_database(pg_server_url, "gateway_graphiql")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("graphiql"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "serve.log") as running:
            yield running
    finally:
        drop_database(pg_server_url, database)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def graphql(server: LiveServer, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables}, headers=headers).json()
    assert "errors" not in body, body
    return body["data"]


def wait_for(read: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_graphiql(browser: webdriver.Chrome, server: LiveServer) -> None:
    browser.get(f"{server.url}/graphql")
    wait_for(lambda: browser.execute_script(GET_EDITOR, QUERY_EDITOR) is not None, "GraphiQL to start")


def run(browser: webdriver.Chrome, query: str, token: str) -> None:
    assert browser.execute_script(SET_EDITOR, QUERY_EDITOR, query)
    headers_tab = next(
        button
        for button in browser.find_elements(By.CSS_SELECTOR, ".graphiql-editor-tools button")
        if button.text.strip() == "Headers"
    )
    headers_tab.click()
    assert wait_for(
        lambda: browser.execute_script(SET_EDITOR, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"})),
        "the headers editor",
    )
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()


def result(browser: webdriver.Chrome, wanted: str) -> str:
    def read() -> str | None:
        text = browser.execute_script(GET_EDITOR, RESULT)
        return text if isinstance(text, str) and wanted in text else None

    return wait_for(read, f"{wanted!r} in the result")


def policy_violations(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_graphiql_is_served_by_the_gateway_under_a_strict_policy(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert "http" not in policy.replace("'self'", "")  # no other origin
    scripts = [part.split('"')[0] for part in page.text.split('<script src="')[1:]]
    assert scripts and all(src.startswith("/graphiql/") for src in scripts)
    for src in scripts:
        asset = httpx.get(server.url + src)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/graphiql/..%2Fide.py").status_code == 404


def test_a_query_with_a_token_header_and_a_live_subscription(server: LiveServer, browser: webdriver.Chrome) -> None:
    email = f"ide-{uuid.uuid4().hex[:10]}@example.com"
    registered = graphql(
        server, REGISTER, {"input": {"email": email, "password": PASSWORD, "firstName": "Ide", "lastName": "User"}}
    )
    token = registered["register"]["accessToken"]
    created = graphql(
        server,
        "mutation($input: CreateChatSessionInput!) { createChatSession(input: $input) { chatSession { id } } }",
        {"input": {"title": "From GraphiQL"}},
        token,
    )
    session_id = created["createChatSession"]["chatSession"]["id"]

    open_graphiql(browser, server)
    run(browser, "{ viewer { email } }", token)
    assert json.loads(result(browser, email))["data"]["viewer"]["email"] == email

    # Subscribed after an anchor message's cursor: the message sent next reaches the page whether its
    # socket was already live when it was sent or not (it is then replayed), so no sleep guesses the moment.
    send = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { errors { code } } }"
    graphql(server, send, {"input": {"sessionId": session_id, "content": "anchor"}}, token)
    anchor = graphql(
        server,
        "query($id: ID!) { node(id: $id) { ... on ChatSession { messages(first: 1) { edges { cursor } } } } }",
        {"id": session_id},
        token,
    )["node"]["messages"]["edges"][0]["cursor"]
    run(
        browser,
        f'subscription {{ messageAdded(sessionId: "{session_id}", after: "{anchor}") {{ content role }} }}',
        token,
    )
    sent = "Sent by another client"
    graphql(server, send, {"input": {"sessionId": session_id, "content": sent}}, token)
    shown = json.loads(result(browser, sent))
    assert shown["data"]["messageAdded"] == {"content": sent, "role": "USER"}
    assert policy_violations(browser) == []


def test_the_vendored_assets_match_their_recorded_checksums() -> None:
    import hashlib

    from graph.ide import ASSETS, vendored

    for name, origin in vendored().items():
        assert hashlib.sha256((Path(ASSETS) / name).read_bytes()).hexdigest() == origin["sha256"], name
