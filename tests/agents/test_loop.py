"""Unit tests of the agent loop with scripted models (logic only; real models are in tests/integration)."""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

import pytest
from pydantic import BaseModel

from codeagent.agents import (
    ActionEvent,
    CodeAgent,
    FinalAnswerEvent,
    ModelDeltaEvent,
    ObservationEvent,
    StepEvent,
    ToolCallingAgent,
)
from codeagent.execution.inprocess import InProcessExecutor
from codeagent.execution.policy import ExecutionPolicy
from codeagent.memory import ActionStep, AgentMemory, PlanningStep
from codeagent.models.types import ChatMessage, ModelError, ToolCall
from codeagent.testing import FunctionModel, ScriptedModel
from codeagent.tools import tool


def code(src: str, thought: str = "I will compute it.") -> str:
    return f"Thought: {thought}\n```python\n{src}\n```"


def make_agent(outputs: list, **kwargs) -> CodeAgent:
    return CodeAgent(model=ScriptedModel(outputs), executor=InProcessExecutor, **kwargs)


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: First number.
        b: Second number.
    """
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: Why.
    """
    raise RuntimeError(f"tool broke: {reason}")


async def test_success_in_one_step():
    agent = make_agent([code("x = 6 * 7\nprint('x is', x)\nfinal_answer(x)")])
    result = await agent.arun("What is 6*7?")
    assert result.status == "success" and result.answer == 42
    assert result.steps == 1
    step = result.memory.action_steps[0]
    assert step.code.startswith("x = 6 * 7") and "x is 42" in step.observation
    assert step.thought == "I will compute it."


async def test_state_persists_between_steps_and_observation_fed_back():
    model = ScriptedModel([code("x = 5\nprint(x * 2)"), code("final_answer(x + 1)")])
    agent = CodeAgent(model=model, executor=InProcessExecutor)
    result = await agent.arun("t")
    assert result.answer == 6
    second_call = model.calls[1].messages
    assert second_call[-1].role == "user" and "10" in second_call[-1].text
    assert second_call[0].role == "system" and "final_answer" in second_call[0].text


async def test_max_steps_uses_last_chance_answer():
    agent = make_agent([code("print(1)"), code("print(2)"), "The answer is 3."], max_steps=2)
    result = await agent.arun("t")
    assert result.status == "max_steps"
    assert result.answer == "The answer is 3."
    assert result.steps == 2


async def test_parse_error_then_recovery():
    model = ScriptedModel(["I think the answer is 4 but I will not write code.", code("final_answer(4)")])
    agent = CodeAgent(model=model, executor=InProcessExecutor)
    result = await agent.arun("t")
    first, second = result.memory.action_steps
    assert first.error is not None and first.error.kind == "parse"
    assert "```" in model.calls[1].messages[-1].text  # the model is told the expected format
    assert result.answer == 4 and second.error is None


async def test_execution_error_is_fed_back():
    model = ScriptedModel([code("y = 1 / 0"), code("final_answer('recovered')")])
    result = await CodeAgent(model=model, executor=InProcessExecutor).arun("t")
    first = result.memory.action_steps[0]
    assert first.error is not None and "ZeroDivisionError" in first.error.message
    assert "ZeroDivisionError" in model.calls[1].messages[-1].text
    assert result.answer == "recovered"


async def test_tool_call_and_tool_error_from_code():
    model = ScriptedModel([code("print(add(2, b=3))\nexplode('boom')"), code("final_answer(add(1, 1))")])
    agent = CodeAgent(model=model, tools=[add, explode], executor=InProcessExecutor)
    result = await agent.arun("t")
    first = result.memory.action_steps[0]
    assert "5" in first.observation
    assert first.error is not None and "tool broke: boom" in first.error.message
    assert result.answer == 2
    system = model.calls[0].messages[0].text
    assert "def add(a: int, b: int) -> int" in system


class Person(BaseModel):
    name: str
    age: int


async def test_typed_final_answer_validation_feeds_back():
    model = ScriptedModel(
        [code("final_answer({'name': 'Ada'})"), code("final_answer({'name': 'Ada', 'age': 36})")]
    )
    agent = CodeAgent(model=model, executor=InProcessExecutor, output_type=Person)
    result = await agent.arun("t")
    assert result.answer == Person(name="Ada", age=36)
    first = result.memory.action_steps[0]
    assert first.error is not None and first.error.kind == "final_answer_check"
    assert "age" in first.error.message and not first.is_final_answer


async def test_final_answer_checks():
    def must_be_even(answer, memory):
        return answer % 2 == 0

    agent = make_agent([code("final_answer(3)"), code("final_answer(4)")], final_answer_checks=[must_be_even])
    result = await agent.arun("t")
    assert result.answer == 4
    assert "must_be_even" in result.memory.action_steps[0].error.message


async def test_additional_args_are_variables():
    agent = make_agent([code("final_answer(len(numbers))")])
    result = await agent.arun("count them", additional_args={"numbers": [1, 2, 3]})
    assert result.answer == 3
    assert "numbers" in result.memory.task


async def test_managed_agent():
    sub = CodeAgent(
        model=ScriptedModel([code("final_answer('Paris')")]),
        executor=InProcessExecutor,
        name="researcher",
        description="Finds facts about places.",
    )
    manager_model = ScriptedModel(
        [
            code("answer = researcher('What is the capital of France?')\nprint(answer)"),
            code("final_answer('done')"),
        ]
    )
    manager = CodeAgent(model=manager_model, executor=InProcessExecutor, managed_agents=[sub])
    result = await manager.arun("t")
    assert "researcher" in manager_model.calls[0].messages[0].text
    assert "Paris" in result.memory.action_steps[0].observation
    assert result.answer == "done"


async def test_managed_agent_failure_surfaces_to_manager():
    sub = CodeAgent(
        model=ScriptedModel([ModelError("server down")]),
        executor=InProcessExecutor,
        name="helper",
        description="Helps.",
    )
    manager = make_agent([code("helper('do it')"), code("final_answer('ok')")], managed_agents=[sub])
    result = await manager.arun("t")
    error = result.memory.action_steps[0].error
    assert error is not None and "helper" in error.message and "server down" in error.message


async def test_planning_every_n_steps_without_feeding_back_old_plan():
    outputs = ["PLAN-ONE", code("print(1)"), code("print(2)"), "PLAN-TWO", code("final_answer(3)")]
    model = ScriptedModel(outputs)
    agent = CodeAgent(model=model, executor=InProcessExecutor, planning_interval=2)
    result = await agent.arun("t")
    plans = [s for s in result.memory.steps if isinstance(s, PlanningStep)]
    assert [p.plan for p in plans] == ["PLAN-ONE", "PLAN-TWO"]
    assert [p.step_number for p in plans] == [1, 3]
    update_call = model.calls[3].messages
    assert not any("PLAN-ONE" in m.text for m in update_call)  # previous plan not fed back to the planner
    action_after = model.calls[4].messages
    assert any("PLAN-TWO" in m.text for m in action_after) and not any(
        "PLAN-ONE" in m.text for m in action_after
    )


async def test_streaming_event_order():
    agent = make_agent([code("print('hi')"), code("final_answer(1)")])
    events = [e async for e in agent.stream("t")]
    kinds = [type(e).__name__ for e in events]
    assert kinds[-1] == "FinalAnswerEvent"
    first_action = kinds.index("ActionEvent")
    assert "ModelDeltaEvent" in kinds[:first_action]
    assert kinds[first_action + 1 : first_action + 3] == ["ObservationEvent", "StepEvent"]
    deltas = "".join(e.text for e in events if isinstance(e, ModelDeltaEvent) and e.step_number == 1)
    assert "print('hi')" in deltas
    observations = [e for e in events if isinstance(e, ObservationEvent)]
    assert observations[0].observation.strip() == "hi"
    final = events[-1]
    assert isinstance(final, FinalAnswerEvent) and final.answer == 1
    assert sum(isinstance(e, ActionEvent) for e in events) == 2
    assert sum(isinstance(e, StepEvent) for e in events) == 2


async def test_callbacks_sync_and_async():
    seen: list[int] = []
    seen_async: list[int] = []

    def cb(step, run):
        seen.append(step.step_number)

    async def acb(step, run):
        await asyncio.sleep(0)
        seen_async.append(step.step_number)

    agent = make_agent([code("print(1)"), code("final_answer(2)")], step_callbacks=[cb, acb])
    await agent.arun("t")
    assert seen == [1, 2] and seen_async == [1, 2]


async def test_memory_round_trip_and_replay():
    agent = make_agent([code("print('a')"), code("final_answer({'k': [1, 2]})")])
    result = await agent.arun("t")
    data = result.memory.to_json()
    restored = AgentMemory.from_json(data)
    assert restored == result.memory
    assert json.loads(data)["steps"][-1]["answer"] == {"k": [1, 2]}
    assert isinstance(restored.action_steps[0], ActionStep)


async def test_model_error_ends_run_cleanly_and_closes_executor():
    closed: list[bool] = []

    class RecordingExecutor(InProcessExecutor):
        async def close(self) -> None:
            closed.append(True)
            await super().close()

    agent = CodeAgent(
        model=ScriptedModel([ModelError("boom: 500 after 3 retries")]), executor=RecordingExecutor
    )
    result = await agent.arun("t")
    assert result.status == "error" and "boom" in result.error
    assert closed == [True]


class StartingExecutor(InProcessExecutor):
    """Records when `start` runs relative to the model's first call and the first action."""

    log: ClassVar[list[str]] = []
    fail_start = False

    async def start(self) -> None:
        StartingExecutor.log.append("start begins")
        await asyncio.sleep(0.05)  # a sandbox takes a moment
        if StartingExecutor.fail_start:
            raise RuntimeError("no sandbox here")
        StartingExecutor.log.append("start done")

    async def run(self, code: str):  # type: ignore[no-untyped-def]
        StartingExecutor.log.append("run")
        return await super().run(code)


async def test_executor_starts_while_the_model_writes_the_first_action():
    StartingExecutor.log, StartingExecutor.fail_start = [], False

    async def slow_model(messages, options):
        StartingExecutor.log.append("model called")
        await asyncio.sleep(0.1)
        StartingExecutor.log.append("model answered")
        return code("final_answer(1)")

    agent = CodeAgent(model=FunctionModel(slow_model), executor=StartingExecutor)
    assert (await agent.arun("t")).answer == 1
    # The sandbox was made ready during the model call, not after it.
    assert StartingExecutor.log == ["model called", "start begins", "start done", "model answered", "run"]


async def test_a_failed_start_surfaces_at_the_first_action():
    StartingExecutor.log, StartingExecutor.fail_start = [], True
    agent = CodeAgent(model=ScriptedModel([code("final_answer(1)")]), executor=StartingExecutor)
    with pytest.raises(RuntimeError, match="no sandbox here"):
        await agent.arun("t")
    assert "run" not in StartingExecutor.log


async def test_a_pending_start_is_cancelled_when_the_run_ends_early():
    StartingExecutor.log, StartingExecutor.fail_start = [], False
    agent = CodeAgent(model=ScriptedModel([ModelError("down")]), executor=StartingExecutor)
    result = await agent.arun("t")
    assert result.status == "error"
    assert "start done" not in StartingExecutor.log  # cancelled (if it had begun at all), not left running


async def test_one_agent_many_concurrent_runs():
    def answer(messages, options):
        task = next(m.text for m in messages if m.role == "user")
        n = int(task.split()[-1])
        return code(f"final_answer({n} * 2)")

    agent = CodeAgent(model=FunctionModel(answer), executor=InProcessExecutor)
    results = await asyncio.gather(*(agent.arun(f"double {i}") for i in range(20)))
    assert [r.answer for r in results] == [i * 2 for i in range(20)]


def test_sync_run_wrapper():
    agent = make_agent([code("final_answer('sync')")])
    assert agent.run("t").answer == "sync"


async def test_sync_run_inside_running_loop():
    agent = make_agent([code("final_answer('nested')")])
    assert agent.run("t").answer == "nested"


# ---- ToolCallingAgent ------------------------------------------------------------------------------


def calls(*items: tuple[str, dict]) -> ChatMessage:
    return ChatMessage(
        role="assistant",
        content=None,
        tool_calls=[ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(items)],
    )


async def test_tool_calling_agent_native_calls():
    model = ScriptedModel(
        [
            calls(("add", {"a": 2, "b": 3}), ("add", {"a": 10, "b": 1})),
            calls(("final_answer", {"answer": 16})),
        ]
    )
    agent = ToolCallingAgent(model=model, tools=[add])
    result = await agent.arun("add things")
    assert result.answer == 16
    first = result.memory.action_steps[0]
    assert [r.output for r in first.tool_results] == ["5", "11"]
    assert {t.name for t in model.calls[0].options.tools} == {"add", "final_answer"}
    second_messages = model.calls[1].messages
    tool_messages = [m for m in second_messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["c0", "c1"]
    assert [m.text for m in tool_messages] == ["5", "11"]


async def test_tool_calling_agent_errors_are_observations():
    model = ScriptedModel(
        [
            calls(("add", {"a": "two", "b": 3})),
            calls(("nope", {})),
            calls(("explode", {"reason": "x"})),
            calls(("final_answer", {"answer": "ok"})),
        ]
    )
    result = await ToolCallingAgent(model=model, tools=[add, explode]).arun("t")
    errors = [s.error.message for s in result.memory.action_steps[:3]]
    assert "a" in errors[0] and "integer" in errors[0]
    assert "unknown tool" in errors[1]
    assert "tool broke" in errors[2]
    assert result.answer == "ok"


async def test_tool_calling_agent_json_in_text():
    model = ScriptedModel(
        [
            'Let me add.\n```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```',
            '{"name": "final_answer", "arguments": {"answer": 3}}',
        ]
    )
    agent = ToolCallingAgent(model=model, tools=[add], native_tools=False)
    result = await agent.arun("t")
    assert result.answer == 3
    assert model.calls[0].options.tools == []
    assert "add" in model.calls[0].messages[0].text  # tools described in the prompt instead


async def test_tool_calling_agent_typed_output():
    model = ScriptedModel([calls(("final_answer", {"answer": {"name": "Bo", "age": "7"}}))])
    agent = ToolCallingAgent(model=model, output_type=Person)
    result = await agent.arun("t")
    assert result.answer == Person(name="Bo", age=7)
    spec = next(t for t in model.calls[0].options.tools if t.name == "final_answer")
    assert "age" in json.dumps(spec.parameters)


def test_invalid_configuration():
    with pytest.raises(ValueError):
        CodeAgent(model=ScriptedModel([]), max_steps=0)
    with pytest.raises(ValueError, match="name and a description"):
        CodeAgent(model=ScriptedModel([]), managed_agents=[CodeAgent(model=ScriptedModel([]))])


async def test_policy_passed_to_executor_factory():
    seen: list[ExecutionPolicy] = []

    def factory(policy: ExecutionPolicy) -> InProcessExecutor:
        seen.append(policy)
        return InProcessExecutor(policy)

    agent = CodeAgent(
        model=ScriptedModel([code("final_answer(1)")]), executor=factory, authorized_imports=["math"]
    )
    await agent.arun("t")
    assert seen[0].authorized_imports == ("math",)
