"""A real JavaScript client (the `graphql-ws` npm package, as browsers and the mobile app use it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

from tests.chat.live_client import LiveUser
from tests.live import LiveServer

JS = Path(__file__).resolve().parents[1] / "js"


def _installed() -> Path:
    node = shutil.which("node")
    assert node is not None, "Node.js is required for the JavaScript client test (.ci/run installs it)"
    if not (JS / "node_modules" / "graphql-ws").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300, capture_output=True)
    return Path(node)


async def test_graphql_ws_npm_client_receives_messages(gateway_a: LiveServer) -> None:
    node = _installed()
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    process = await asyncio.create_subprocess_exec(
        str(node),
        str(JS / "subscribe.mjs"),
        gateway_a.ws_url,
        user.token,
        session,
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip() == "ready"
        await asyncio.sleep(0.5)  # connected; give the subscribe message time to land
        await user.send(session, "hello from python")
        await user.send(session, "second")
        lines = [json.loads(await asyncio.wait_for(process.stdout.readline(), 20)) for _ in range(2)]
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
    assert [line["data"]["messageAdded"] for line in lines] == [
        {"seq": 1, "content": "hello from python"},
        {"seq": 2, "content": "second"},
    ]
