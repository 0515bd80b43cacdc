"""An MCP client (the official Python SDK) that starts its server with the command
line it is given, over stdio, and checks a real exchange: initialize, tools/list,
tools/call. Prints one JSON summary line; exits non-zero on any mismatch.

Usage: python3 client.py COMMAND [ARGS...]
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(argv):
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            names = sorted(t.name for t in tools.tools)
            added = await session.call_tool("add", {"a": 40, "b": 2})
            echoed = await session.call_tool("echo", {"text": "héllo\u2603 \"quoted\"\n"})
            summary = {
                "server": init.serverInfo.name,
                "protocol": init.protocolVersion,
                "tools": names,
                "add": [c.text for c in added.content if c.type == "text"],
                "echo": [c.text for c in echoed.content if c.type == "text"],
                "add_error": added.isError,
            }
            print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
