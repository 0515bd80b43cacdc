"""A small MCP server over stdio, for berth's end-to-end test."""
from mcp.server.fastmcp import FastMCP

mcp = FastMCP("berth-test")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    mcp.run()
