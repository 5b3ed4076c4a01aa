"""Storage in an S3-compatible bucket (moto's server mode on loopback): the adapter's contract, and a
whole upload -> processing -> download through a live gateway configured with GATEWAY_STORAGE_URL."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from services.storage import Storage, StoredObjectMissing
from tests.agents.conftest import own_environment
from tests.documents import files
from tests.documents.flows import uploaded, wait_until_processed
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer, free_port, live_server

BUCKET = "gateway-documents"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }


def keys_in_bucket(endpoint: str, prefix: str) -> list[str]:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def s3_storage(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Storage:
    for name, value in aws_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    return Storage.from_setting(f"s3://{BUCKET}/adapter", tmp_path)


async def test_the_adapter_streams_in_and_out_of_a_bucket(s3_storage: Storage, s3_endpoint: str) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    await s3_storage.put_file("documents/u/d", io.BytesIO(content))
    assert keys_in_bucket(s3_endpoint, "adapter/") == ["adapter/documents/u/d"]
    target = io.BytesIO()
    assert await s3_storage.save_to("documents/u/d", target) == len(content)
    assert target.getvalue() == content
    await s3_storage.delete("documents/u/d")
    assert not await s3_storage.exists("documents/u/d")
    await s3_storage.delete("documents/u/d")  # absent: no error
    with pytest.raises(StoredObjectMissing):
        await s3_storage.stream("documents/u/d")


@pytest.fixture
def s3_server(s3_endpoint: str, pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with own_environment(pg_server_url, tmp_path_factory, "documents_s3", run_worker=True) as environment:
        env = {**environment.env, **aws_env(s3_endpoint), "GATEWAY_STORAGE_URL": f"s3://{BUCKET}/live"}
        with live_server(env, log=environment.logs / "gateway.log") as server:
            yield server


@pytest.fixture
async def s3_gateway(s3_server: LiveServer) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=s3_server.url, timeout=60) as http:
        yield GraphQLClient(http)


async def test_a_gateway_on_a_bucket_uploads_processes_and_downloads(
    s3_gateway: GraphQLClient, s3_endpoint: str
) -> None:
    user = await s3_gateway.register()
    content = files.pdf([files.INVOICE_TEXT])
    document = await uploaded(s3_gateway.http, user, content, "invoice.pdf")
    assert keys_in_bucket(s3_endpoint, f"live/documents/{user.pk}/") != []
    done = await wait_until_processed(s3_gateway, user, document["id"])
    assert done["processingStatus"] == "COMPLETED", done["processingError"]
    assert "Acme Plumbing" in done["contentText"]
    downloaded = await s3_gateway.http.get(done["downloadUrl"])
    assert downloaded.status_code == 200 and downloaded.content == content
