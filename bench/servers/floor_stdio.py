"""The stdio floor: a bare stdin/stdout line loop answering initialize and tools/call."""

from __future__ import annotations

import json
import sys

from common import tool_result


def main() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if "id" not in message:
            continue  # a notification
        params = message.get("params") or {}
        if message["method"] == "initialize":
            result: dict = {
                "protocolVersion": params.get("protocolVersion"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "floor", "version": "0"},
            }
        else:
            result = tool_result(params)
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        out.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
