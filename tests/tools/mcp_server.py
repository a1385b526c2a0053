"""A small MCP server for the adapter's tests (stdio), built with the mcp SDK itself.

Run as ``python tests/tools/mcp_server.py``. Tools: ``add`` (typed arguments, a number back), ``lookup``
(a dict back, with a ``session`` argument the client fixes), ``fail`` (an error result), ``slow`` (sleeps).
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("codeagent-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def lookup(key: str, session: str) -> dict[str, str]:
    """Look a key up in a session's store."""
    return {"key": key, "session": session, "value": key.upper()}


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the given reason."""
    raise ToolError(f"refused: {reason}")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


if __name__ == "__main__":
    server.run("stdio")
