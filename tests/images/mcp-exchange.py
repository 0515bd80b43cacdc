#!/usr/bin/env python3
"""Drives one MCP stdio exchange with a server command and checks the replies.

Usage: mcp-exchange.py COMMAND [ARG...]
    e.g. mcp-exchange.py docker run -i --rm berth-test/mcp python3 /srv/server.py

Sends initialize, notifications/initialized, tools/list and two tools/call
requests as JSON-RPC lines, waiting for each reply (stdlib only: no SDK on the
host is needed). Prints the exchange; exits 1 when a reply is missing or wrong.
"""

import json
import queue
import subprocess
import sys
import threading

TIMEOUT = 30


def main() -> int:
    proc = subprocess.Popen(
        sys.argv[1:],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def send(message: dict) -> None:
        text = json.dumps(message)
        print(f">>> {text}")
        proc.stdin.write(text + "\n")
        proc.stdin.flush()

    def reply(request_id: int) -> dict:
        while True:
            line = lines.get(timeout=TIMEOUT)
            if line is None:
                raise RuntimeError(f"the server closed stdout before replying to {request_id}")
            print(f"<<< {line.rstrip()}")
            message = json.loads(line)
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"error reply: {message['error']}")
                return message["result"]

    def call(request_id: int, name: str, arguments: dict) -> str:
        send({
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        })
        result = reply(request_id)
        if result.get("isError"):
            raise RuntimeError(f"{name} failed: {result}")
        return "".join(c.get("text", "") for c in result["content"])

    try:
        send({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "berth-images-verify", "version": "0"},
            },
        })
        init = reply(1)
        assert init["serverInfo"]["name"] == "berth-test", init
        assert "tools" in init["capabilities"], init
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})

        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = {t["name"] for t in reply(2)["tools"]}
        assert {"add", "echo"} <= tools, tools

        assert call(3, "add", {"a": 2, "b": 40}) == "42"
        assert call(4, "echo", {"text": "hello berth"}) == "hello berth"
    except Exception as error:  # noqa: BLE001 - report whatever went wrong
        proc.kill()
        print(f"FAILED: {error!r}", file=sys.stderr)
        print(proc.stderr.read(), file=sys.stderr)
        return 1
    proc.stdin.close()
    try:
        code = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        print("FAILED: the server did not exit after stdin closed", file=sys.stderr)
        return 1
    if code != 0:
        print(f"FAILED: the server exited with {code}", file=sys.stderr)
        print(proc.stderr.read(), file=sys.stderr)
        return 1
    print("mcp exchange ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
