from tests.graphql_client import GraphQLClient


async def test_register_then_viewer(client: GraphQLClient) -> None:
    signed = await client.register()
    data = await client.data("{ viewer { id email firstName preferences { ai { personality } } } }", token=signed.token)
    assert data["viewer"]["email"] == signed.email
    assert data["viewer"]["preferences"]["ai"]["personality"] == "PROFESSIONAL"
