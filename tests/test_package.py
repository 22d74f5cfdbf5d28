import mcp_host


def test_public_api_is_exported() -> None:
    for name in mcp_host.__all__:
        assert hasattr(mcp_host, name), name
