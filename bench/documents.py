"""`python -m bench documents`: documents end to end on a `gateway serve` that runs the worker in-process.

1. upload -> COMPLETED latency (p50/p99) of a 1 MB PDF, one at a time, timed from the start of the
   multipart upload to the COMPLETED event on a `documentUpdated` subscription;
2. documents processed per minute with a backlog (uploads at a fixed concurrency);
3. `viewer.documentSearch` p50/p99 over 100,000 documents of one user (rows written by COPY, the search
   indexes rebuilt after), for rare, common and phrase queries.

Loopback only; bounded in count and time."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets

from bench.config import plain_dsn, require_loopback, scratch_database
from bench.server import GatewayProcess
from services.tokens import generate_key_set

REGISTER = """mutation($i: RegisterInput!) { register(input: $i) { user { id } accessToken errors { code } } }"""
UPLOAD = """mutation($input: UploadDocumentInput!) { uploadDocument(input: $input) {
  document { id } errors { code message } } }"""
WATCH = "subscription { documentUpdated { id processingStatus processingError } }"
SEARCH = """query($q: String!) { viewer { documentSearch(query: $q, first: 20) {
  edges { node { rank highlights document { id title } } } } } }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def megabyte_pdf(target: int = 1024 * 1024) -> bytes:
    """A text PDF of at least `target` bytes: uncompressed pages of business words."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    words = ["invoice", "supplier", "payment", "quote", "delivery", "contract", "warranty", "schedule", "total"]
    pages = 100
    while True:
        rng = random.Random(7)
        buffer = io.BytesIO()
        sheet = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
        for _ in range(pages):
            for line in range(48):
                sheet.drawString(40, 800 - line * 16, " ".join(rng.choice(words) for _ in range(14)))
            sheet.showPage()
        sheet.save()
        if buffer.tell() >= target:
            return buffer.getvalue()
        pages = int(pages * target / buffer.tell()) + 1


async def _gql(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    if "errors" in body:
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]


async def _upload(http: httpx.AsyncClient, token: str, content: bytes, name: str) -> str:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, content, "application/pdf")},
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
    )
    payload = response.json()["data"]["uploadDocument"]
    if payload["errors"]:
        raise SystemExit(f"upload refused: {payload['errors']}")
    return str(payload["document"]["id"])


async def processing(base_url: str, pdf: bytes, one_at_a_time: int, backlog: int, concurrency: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        email = f"bench-docs-{uuid.uuid4().hex[:8]}@bench.example.com"
        account = {"email": email, "password": "BenchPassw0rd!", "firstName": "Bench", "lastName": "Docs"}
        token = (await _gql(http, REGISTER, {"i": account}))["register"]["accessToken"]
        finished: dict[str, float] = {}
        failures: list[str] = []
        arrived = asyncio.Event()
        ws_url = base_url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            await socket.recv()
            await socket.send(json.dumps({"id": "w", "type": "subscribe", "payload": {"query": WATCH}}))
            await asyncio.sleep(0.3)

            async def watch() -> None:
                async for raw in socket:
                    message = json.loads(raw)
                    if message.get("type") != "next":
                        continue
                    update = message["payload"]["data"]["documentUpdated"]
                    if update["processingStatus"] in ("COMPLETED", "FAILED"):
                        finished.setdefault(update["id"], time.perf_counter())
                        if update["processingStatus"] == "FAILED":
                            failures.append(update["processingError"])
                        arrived.set()

            watcher = asyncio.create_task(watch())
            latencies: list[float] = []
            for n in range(one_at_a_time):
                started = time.perf_counter()
                document = await _upload(http, token, pdf, f"one-{n}.pdf")
                async with asyncio.timeout(300):
                    while document not in finished:
                        arrived.clear()
                        await arrived.wait()
                latencies.append((finished[document] - started) * 1000)

            ids: list[str] = []
            names = iter(range(backlog))

            async def submit() -> None:
                for n in names:
                    ids.append(await _upload(http, token, pdf, f"backlog-{n}.pdf"))

            began = time.perf_counter()
            await asyncio.gather(*(submit() for _ in range(concurrency)))
            async with asyncio.timeout(900):
                while not all(document in finished for document in ids):
                    arrived.clear()
                    await arrived.wait()
            elapsed = max(finished[document] for document in ids) - began
            watcher.cancel()
    if failures:
        raise SystemExit(f"{len(failures)} documents failed: {failures[:3]}")
    return {
        "latency_p50_ms": statistics.median(latencies),
        "latency_p99_ms": percentile(latencies, 0.99),
        "per_minute": backlog / elapsed * 60,
        "backlog_seconds": elapsed,
    }


def vocabulary(size: int, rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fi", "go", "ha", "ju", "pe", "zo"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


async def seed_search(dsn: str, user_id: uuid.UUID, documents: int) -> dict[str, list[str]]:
    """`documents` rows of ~120 Zipf-distributed words each; answers the query words by how common."""
    rng = random.Random(42)
    words = vocabulary(5000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        await connection.execute("DROP INDEX IF EXISTS idx_documents_content_text, idx_documents_title_search")
        batch: list[tuple[Any, ...]] = []
        for n in range(documents):
            text = " ".join(rng.choices(words, weights, k=120))
            document_id = uuid.uuid4()
            batch.append(
                (
                    document_id,
                    user_id,
                    f"{document_id}.txt",
                    f"file-{n}.txt",
                    f"Document {n} {words[n % 5000]}",
                    "text/plain",
                    len(text),
                    f"documents/{user_id}/{document_id}",
                    text,
                    "completed",
                )
            )
            if len(batch) == 5000:
                await _copy(connection, batch)
                batch = []
        if batch:
            await _copy(connection, batch)
        await connection.execute(
            "CREATE INDEX idx_documents_content_text ON documents "
            "USING gin (to_tsvector('english'::regconfig, content_text))"
        )
        await connection.execute(
            "CREATE INDEX idx_documents_title_search ON documents "
            "USING gin (to_tsvector('english'::regconfig, COALESCE(title, ''::character varying)::text))"
        )
        await connection.execute("ANALYZE documents")
    finally:
        await connection.close()
    return {"rare": words[3000:3040], "medium": words[200:240], "common": words[5:25]}


async def _copy(connection: asyncpg.Connection, batch: list[tuple[Any, ...]]) -> None:
    await connection.copy_records_to_table(
        "documents",
        records=batch,
        columns=[
            "id",
            "user_id",
            "filename",
            "original_filename",
            "title",
            "mime_type",
            "file_size",
            "file_path",
            "content_text",
            "processing_status",
        ],
    )


async def searching(base_url: str, dsn: str, documents: int, rounds: int) -> dict[str, dict[str, float]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        email = f"bench-search-{uuid.uuid4().hex[:8]}@bench.example.com"
        account = {"email": email, "password": "BenchPassw0rd!", "firstName": "Bench", "lastName": "Search"}
        answer = (await _gql(http, REGISTER, {"i": account}))["register"]
        token = answer["accessToken"]
        from graph.node import decode_global_id

        user_id = decode_global_id(answer["user"]["id"])[1]
        assert isinstance(user_id, uuid.UUID)
        started = time.perf_counter()
        words = await seed_search(dsn, user_id, documents)
        print(f"seeded {documents} documents in {time.perf_counter() - started:.0f} s")
        kinds = {
            "rare word": words["rare"],
            "medium word": words["medium"],
            "common word": words["common"],
            "two words (and)": [f"{a} {b}" for a, b in zip(words["medium"], words["common"], strict=False)],
            "phrase": [f'"{a} {b}"' for a, b in zip(words["common"], words["common"][1:], strict=False)],
            "word -word": [f"{a} -{b}" for a, b in zip(words["medium"], words["common"], strict=False)],
        }
        results: dict[str, dict[str, float]] = {}
        everything: list[float] = []
        for kind, queries in kinds.items():
            for query in queries[:3]:  # warm the caches a real server has
                await _gql(http, SEARCH, {"q": query}, token)
            timings: list[float] = []
            hits = 0
            for n in range(rounds):
                query = queries[n % len(queries)]
                began = time.perf_counter()
                data = await _gql(http, SEARCH, {"q": query}, token)
                timings.append((time.perf_counter() - began) * 1000)
                hits += len(data["viewer"]["documentSearch"]["edges"])
            everything += timings
            results[kind] = {"p50": statistics.median(timings), "p99": percentile(timings, 0.99), "hits": hits / rounds}
        results["all"] = {"p50": statistics.median(everything), "p99": percentile(everything, 0.99), "hits": 0}
        return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench documents", description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--one-at-a-time", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=30)
    parser.add_argument("-c", "--concurrency", type=int, default=4)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--search-rounds", type=int, default=100)
    parser.add_argument("--skip-processing", action="store_true")
    args = parser.parse_args(argv)
    require_loopback(args.dsn)
    require_loopback(args.redis_url)
    keys = json.dumps(generate_key_set().as_dict(private=True))
    extra = {"GATEWAY_JWT_PRIVATE_KEYS": keys, "GATEWAY_RUN_WORKER": "true"}
    pdf = megabyte_pdf()
    with scratch_database(args.dsn, "gateway_bench_documents") as dsn:
        gateway = GatewayProcess(dsn, args.redis_url, Path("bench/results/documents-gateway.log"), extra_env=extra)
        try:
            gateway.start()
            if not args.skip_processing:
                processed = asyncio.run(
                    processing(gateway.base_url, pdf, args.one_at_a_time, args.backlog, args.concurrency)
                )
                print(f"\nUpload -> COMPLETED, {len(pdf) / 1e6:.2f} MB PDF, worker in the serve process")
                print(
                    f"one at a time ({args.one_at_a_time}): p50 {processed['latency_p50_ms']:.0f} ms, "
                    f"p99 {processed['latency_p99_ms']:.0f} ms"
                )
                print(
                    f"backlog of {args.backlog} ({args.concurrency} uploaders): {processed['per_minute']:.1f} "
                    f"documents/minute ({processed['backlog_seconds']:.0f} s)"
                )
            searched = asyncio.run(searching(gateway.base_url, dsn, args.documents, args.search_rounds))
        finally:
            gateway.stop()
    print(f"\ndocumentSearch over {args.documents} documents of one user (first: 20, over HTTP)")
    print(f"{'query':<18} {'p50 ms':>8} {'p99 ms':>8} {'hits/page':>10}")
    for kind, figures in searched.items():
        print(f"{kind:<18} {figures['p50']:>8.1f} {figures['p99']:>8.1f} {figures['hits']:>10.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
