"""MCP tools against a real MCP server (tests/tools/mcp_server.py, built with the mcp SDK), used directly and
by both agents (the CodeAgent calls them from its sandboxed code over the bridge)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the mcp SDK (pip install 'codeagent[mcp]')")

from codeagent import CodeAgent, ToolCallingAgent
from codeagent.bench.environment import code_action, tool_calls_message
from codeagent.testing import ScriptedModel
from codeagent.tools.mcp import MCPClient, MCPError, MCPToolError, StdioServer

SERVER = StdioServer(sys.executable, [str(Path(__file__).with_name("mcp_server.py"))])


async def test_tools_come_with_the_servers_schemas_and_return_plain_values():
    async with MCPClient(SERVER) as client:
        tools = {tool.name: tool for tool in await client.tools(fixed={"session": "s-1"})}
        assert set(tools) == {"add", "lookup", "fail", "slow"}
        assert tools["add"].signature() == "add(a: int, b: int) -> int"
        assert tools["add"].description == "Add two integers."
        # A value that is not an object comes back as itself, not as the server's {"result": ...} wrapper.
        assert await tools["add"](2, 3) == 5
        # The fixed argument is hidden from the model and added to the call.
        assert "session" not in tools["lookup"].input_schema["properties"]
        assert "session" not in tools["lookup"].input_schema["required"]
        assert await tools["lookup"](key="k") == {"key": "k", "session": "s-1", "value": "K"}


async def test_errors_reach_the_model_as_tool_errors_and_the_connection_survives():
    async with MCPClient(SERVER, call_timeout_s=0.5) as client:
        tools = {tool.name: tool for tool in await client.tools()}
        with pytest.raises(MCPToolError, match="refused: no reason"):
            await tools["fail"](reason="no reason")
        with pytest.raises(MCPToolError, match=r"no answer within 0\.5 s"):
            await tools["slow"](seconds=5)
        with pytest.raises(Exception, match="missing required argument 'b'"):
            await tools["add"](1)  # checked against the schema before the server is asked
        assert await tools["add"](1, 1) == 2


async def test_calls_from_many_tasks_at_once():
    async with MCPClient(SERVER) as client:
        add = {tool.name: tool for tool in await client.tools()}["add"]
        results = await asyncio.gather(*(asyncio.create_task(add(i, i)) for i in range(20)))
        assert results == [2 * i for i in range(20)]


async def test_a_server_that_cannot_start_is_a_clear_error():
    with pytest.raises(MCPError, match="could not start the MCP server"):
        await MCPClient(StdioServer("/nonexistent/mcp-server")).start()
    with pytest.raises(MCPError, match="not started"):
        await MCPClient(SERVER).tools()


async def test_a_code_agent_calls_mcp_tools_from_its_sandboxed_code():
    async with MCPClient(SERVER) as client:
        tools = await client.tools(fixed={"session": "agent"})
        model = ScriptedModel(
            [code_action("total = add(20, 22)\nfound = lookup('x')\nfinal_answer([total, found['value']])")]
        )
        result = await CodeAgent(model=model, tools=tools).arun("Use the tools.")
        assert result.answer == [42, "X"]
        # The prompt shows them as Python functions with their return types.
        system = model.calls[0].messages[0].text
        assert "def add(a: int, b: int) -> int:" in system


async def test_a_tool_calling_agent_sees_mcp_errors_as_observations():
    async with MCPClient(SERVER) as client:
        model = ScriptedModel(
            [
                tool_calls_message([("fail", {"reason": "quota"})]),
                tool_calls_message([("add", {"a": 1, "b": 2})]),
                tool_calls_message([("final_answer", {"answer": "done"})]),
            ]
        )
        result = await ToolCallingAgent(model=model, tools=await client.tools()).arun("Go.")
        assert result.answer == "done"
        observations = [step.observation or "" for step in result.memory.action_steps]
        assert "refused: quota" in observations[0] and "3" in observations[1]
