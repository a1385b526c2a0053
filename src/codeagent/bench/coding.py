"""The coding environment (BCB-Agent style): write a solution, test it, submit it to hidden unit tests.

The agent gets four host-side tools (called from its code over the executor bridge, or as JSON tool calls):

- ``write_solution(code)``: save the complete solution (replaces the previous one);
- ``read_solution()``: the saved solution;
- ``run_tests(test_code)``: run the saved solution followed by the agent's own test code in a fresh
  namespace (with a timeout) and return the output. Where: see below;
- ``submit()``: submit the saved solution; final. The hidden tests run at once, in a fresh sandbox;
  their result is kept from the agent (it is told only that the submission was received). That sandbox is
  started in the background when the first solution is written, and runs nothing before the hidden tests.

Scoring (decided here, documented for users): a submitted solution is scored as submitted. A run that never
calls ``submit()`` is scored on its last written solution, and failing that, on its final answer when that
is a string of code (small models often answer with the code itself); ``details["source"]`` says which
("submit", "last_write", "final_answer"), so a report can hold it against them. No solution scores 0.

Hidden tests are a program built from the solution by the task's `HiddenTest` (e.g. HumanEval: solution +
``test`` + ``check(entry_point)``), run in a fresh executor from ``test_executor(policy)`` (default: the
sandboxed executor, OS wall only: see `hidden_policy`). The task passes when the program raises nothing
within the timeout (and the operation budget; running out of either is reported as the "timeout" failure).

The agent's own tests (``own_tests_in``): by default ("agent_sandbox") they run where the agent's code runs,
when it calls ``run_tests`` from a sandbox — a CodeAgent's own worker, in a fresh namespace (none of its
variables; its policy and imports; see `codeagent.execution.caller`) — so a task needs two sandboxes, not
one more per test run; tests that overrun their timeout in a way the language wall cannot stop cost the
agent its worker's state (reported as a timeout). Called natively (ToolCallingAgent), or with
"test_executor", each test run gets a fresh executor from ``test_executor`` instead.

Example:
    >>> import asyncio
    >>> from codeagent.bench.environment import TaskSpec
    >>> task = TaskSpec(id="add", prompt="Write add(a, b).", metadata={"test": "assert add(1, 2) == 3"})
    >>> env = CodingEnvironment(task, hidden_test=append_test)
    >>> [t.name for t in env.tools()]
    ['write_solution', 'read_solution', 'run_tests', 'submit']
"""

from __future__ import annotations

import ast
import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from codeagent.bench.environment import AgentKind, Score, TaskSpec, code_action, tool_calls_message
from codeagent.execution.caller import caller_sandbox
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionResult, Executor, cancel_start, start_in_background
from codeagent.tools import Tool

if TYPE_CHECKING:
    from codeagent.agents.result import RunResult
    from codeagent.models.types import Model

#: Builds the hidden test program from a solution: ``hidden_test(solution, task) -> program``.
HiddenTest = Callable[[str, TaskSpec], str]
#: Builds an executor for one test run (a fresh one each time).
ExecutorFactory = Callable[[ExecutionPolicy], Executor]
#: Where the agent's own tests run: in the calling agent's sandbox when there is one, or always in a fresh
#: executor from ``test_executor``.
OwnTestsIn = Literal["agent_sandbox", "test_executor"]

#: What the agent is told about the environment (the benchmark's `instructions`).
CODING_INSTRUCTIONS = """\
You are in a coding environment. Use these tools:
- write_solution(code): save your complete solution, a self-contained Python module with the imports and \
the function(s) asked for (it replaces the previous one);
- read_solution(): return your saved solution;
- run_tests(test_code): run your saved solution followed by test_code (for example assert statements) in a \
clean namespace, and return the output or the error;
- submit(): submit your saved solution for grading by hidden tests. This is final.
Write the solution, test it, fix it if needed, then call submit() and final_answer("submitted")."""

#: Hidden-test errors reported as the "timeout" failure: the wall clock, or the operation budget (an endless
#: loop in the language wall usually runs out of operations first).
_OUT_OF_TIME = frozenset({ErrorKind.TIMEOUT, ErrorKind.OPERATION_LIMIT})
_OUTPUT_LIMIT = 4000  # characters of test output shown to the agent / kept in the details
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def append_test(solution: str, task: TaskSpec) -> str:
    """The generic hidden test: the solution, then ``metadata["test"]``, then ``metadata["check"]`` if any.

    Example:
        >>> task = TaskSpec(id="t", prompt="", metadata={"test": "assert f() == 1"})
        >>> append_test("def f(): return 1", task)
        'def f(): return 1\\n\\nassert f() == 1\\n'
    """
    parts = [solution, str(task.metadata.get("test", ""))]
    check = task.metadata.get("check")
    if check:
        parts.append(str(check))
    return "\n\n".join(parts) + "\n"


def default_test_executor(policy: ExecutionPolicy) -> Executor:
    """A fresh sandboxed executor (bubblewrap worker from the warm pool)."""
    from codeagent.execution.sandboxed import SandboxedExecutor

    return SandboxedExecutor(policy)


async def run_program(
    program: str, policy: ExecutionPolicy, test_executor: ExecutorFactory = default_test_executor
) -> ExecutionResult:
    """Run `program` once in a fresh executor (closed afterwards) and return its result.

    Example:
        >>> asyncio.run(run_program("assert 1 + 1 == 2", ExecutionPolicy(timeout_s=5))).ok  # doctest: +SKIP
        True
    """
    executor = test_executor(policy)
    try:
        return await executor.run(program)
    finally:
        await executor.close()


def extract_code(text: str) -> str:
    """The code of the first fenced block in `text`, or `text` itself when it has no fence.

    Example:
        >>> extract_code("Here:\\n```python\\ndef f():\\n    return 1\\n```")
        'def f():\\n    return 1\\n'
    """
    match = _FENCE.search(text)
    return match.group(1) if match else text


def _shorten(text: str, limit: int = _OUTPUT_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]}\n[... cut ...]\n{text[-limit // 2 :]}"


class CodingEnvironment:
    """One coding task: the solution file, the agent's tools, and the hidden tests.

    Args:
        task: the task; ``metadata`` holds what `hidden_test` needs (kept from the agent).
        hidden_test: builds the hidden test program from a solution (see `append_test`).
        policy: limits of the test sandboxes (timeout = the hidden tests' wall-clock limit).
        own_test_timeout_s: wall-clock limit of the agent's ``run_tests`` (default: the policy's).
        test_executor: makes the fresh executor of each test run (default: the sandboxed executor).
        own_tests_in: where ``run_tests`` runs (see the module docstring).

    Example:
        >>> async def demo() -> bool:
        ...     task = TaskSpec(id="t", prompt="", metadata={"test": "assert f() == 1"})
        ...     env = CodingEnvironment(task, hidden_test=append_test)
        ...     tools = {t.name: t for t in env.tools()}
        ...     await tools["write_solution"]("def f():\\n    return 1\\n")
        ...     await tools["submit"]()
        ...     return (await env.score(None)).passed
        >>> asyncio.run(demo())  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        task: TaskSpec,
        *,
        hidden_test: HiddenTest,
        policy: ExecutionPolicy | None = None,
        own_test_timeout_s: float | None = None,
        test_executor: ExecutorFactory = default_test_executor,
        own_tests_in: OwnTestsIn = "agent_sandbox",
    ) -> None:
        self.task = task
        self.hidden_test = hidden_test
        self.policy = policy or ExecutionPolicy(timeout_s=10.0)
        self.own_test_policy = (
            self.policy if own_test_timeout_s is None else replace(self.policy, timeout_s=own_test_timeout_s)
        )
        # Hidden tests are trusted programs that need full Python (unittest, mock, a canonical eval): they run
        # without the language wall, inside the OS wall alone, as in any evaluation harness's container.
        self.hidden_policy = replace(self.policy, language_wall=False)
        self.test_executor = test_executor
        self.own_tests_in = own_tests_in
        self.solution: str | None = None
        self.submitted = False
        self.writes = 0
        self.test_runs = 0
        self._verdict: Score | None = None
        #: The hidden tests' sandbox, started in the background once there is a solution (`_prepare_grader`).
        self._grader: Executor | None = None
        self._grader_start: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()  # tool calls of one step may run concurrently (ToolCallingAgent)

    # ---- the agent's tools -----------------------------------------------------------------------------
    def tools(self) -> Sequence[Tool]:
        # Static schemas: building tools from the methods' signatures (pydantic) costs ~2 ms per tool per
        # task, a fifth of the harness's own time in a 164-task run.
        return [
            MethodTool(
                self.write_solution, _CODE_ARG, "A confirmation, with a warning if the code does not parse."
            ),
            MethodTool(self.read_solution, {}, "The source code of the saved solution."),
            MethodTool(
                self.run_tests, _TEST_ARG, 'What the code printed, and the error or "All tests passed."'
            ),
            MethodTool(self.submit, {}, "A confirmation (the grade is not shown)."),
        ]

    async def write_solution(self, code: str) -> str:
        """Save your complete solution (a Python module); it replaces the previous one.

        Args:
            code: The full source code of the solution.

        Returns:
            A confirmation, with a warning if the code does not parse.
        """
        async with self._lock:
            if self.submitted:
                return "Your solution was already submitted; the submission is final."
            self.solution = code
            self.writes += 1
            self._prepare_grader()
        lines = code.count("\n") + 1
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return (
                f"Saved ({lines} lines), but it does not parse: SyntaxError at line {exc.lineno}: {exc.msg}"
            )
        except (ValueError, RecursionError) as exc:
            return f"Saved ({lines} lines), but it does not parse: {exc}"
        return f"Saved your solution ({lines} lines)."

    async def read_solution(self) -> str:
        """Return your saved solution (empty if you have not written one).

        Returns:
            The source code of the saved solution.
        """
        return self.solution or ""

    async def run_tests(self, test_code: str) -> str:
        """Run your saved solution followed by test_code in a clean namespace and return the output.

        Args:
            test_code: Python code testing your solution, e.g. assert statements and prints.

        Returns:
            What the code printed, and the error if it failed; "All tests passed." if nothing failed.
        """
        if self.solution is None:
            return "No solution saved yet: call write_solution(code) first."
        self.test_runs += 1
        program = f"{self.solution}\n\n{test_code}\n"
        sandbox = caller_sandbox() if self.own_tests_in == "agent_sandbox" else None
        if sandbox is not None:
            result = await sandbox.run_fresh(program, timeout_s=self.own_test_policy.timeout_s)
        else:
            result = await run_program(program, self.own_test_policy, self.test_executor)
        parts = [result.logs.rstrip()] if result.logs.strip() else []
        if result.error is not None:
            parts.append(f"Error: {result.error}")
        else:
            parts.append("All tests passed.")
        return _shorten("\n".join(parts))

    async def submit(self) -> str:
        """Submit your saved solution for grading by the hidden tests. This is final.

        Returns:
            A confirmation (the grade is not shown).
        """
        async with self._lock:
            if self.submitted:
                return "Already submitted."
            if self.solution is None:
                return "No solution saved yet: call write_solution(code) first."
            self.submitted = True
            solution = self.solution
        self._verdict = await self.grade(solution, source="submit")
        return 'Submission received. Call final_answer("submitted") to finish.'

    # ---- the hidden side -------------------------------------------------------------------------------
    async def grade(self, solution: str, *, source: str) -> Score:
        """Run the hidden tests on `solution` in a fresh sandbox."""
        started = time.perf_counter()
        program = self.hidden_test(solution, self.task)
        executor, starting = self._take_grader()
        try:
            if starting is not None:
                await starting
            result = await executor.run(program)
        finally:
            await executor.close()
        details: dict[str, Any] = {
            "source": source,
            "submitted": source == "submit",
            "test_seconds": round(time.perf_counter() - started, 4),
            "writes": self.writes,
            "own_test_runs": self.test_runs,
        }
        if result.error is not None:
            details["error"] = _shorten(str(result.error), 1000)
            details["error_kind"] = str(result.error.kind)
            if result.error.kind in _OUT_OF_TIME:
                details["failure"] = "timeout"
        if result.logs.strip():
            details["logs"] = _shorten(result.logs, 1000)
        return Score.of(result.error is None, **details)

    async def score(self, result: RunResult | None) -> Score:
        if self._verdict is not None:
            return self._verdict
        if self.solution is not None:
            return await self.grade(self.solution, source="last_write")
        answer = result.answer if result is not None else None
        if isinstance(answer, str) and answer.strip() and "def " in answer:
            return await self.grade(extract_code(answer), source="final_answer")
        return Score.of(False, source=None, reason="no solution was written or submitted")

    async def close(self) -> None:
        """Close the hidden tests' sandbox if it was started but never used (others close after their run)."""
        if self._grader is not None:
            executor, starting = self._take_grader()
            await cancel_start(starting)
            await executor.close()

    def _prepare_grader(self) -> None:
        """Start the hidden tests' sandbox now, in the background, so that grading does not wait for it.

        It stays as fresh as one started at submit: nothing runs in it before the hidden tests. Starting it
        while the model writes its next actions moves the sandbox's start (and the pool's refill) out of
        the moment everything else happens too: a submission, the end of a task, the start of the next.
        """
        if self._grader is not None:
            return
        try:
            self._grader = self.test_executor(self.hidden_policy)
        except Exception:  # the same call fails again when grading, and is reported there
            return
        self._grader_start = start_in_background(self._grader)

    def _take_grader(self) -> tuple[Executor, asyncio.Future[None] | None]:
        """The prepared sandbox (and its start), or a new one; the caller runs it once and closes it."""
        executor, starting = self._grader, self._grader_start
        self._grader, self._grader_start = None, None
        if executor is None:
            return self.test_executor(self.hidden_policy), None
        return executor, starting


_CODE_ARG = {"code": {"type": "string", "description": "The full source code of the solution."}}
_TEST_ARG = {
    "test_code": {
        "type": "string",
        "description": "Python code testing your solution, e.g. assert statements and prints.",
    }
}


class MethodTool(Tool):
    """A tool that calls an async method of an environment, with string arguments described by a fixed schema.

    Example:
        >>> class Env:
        ...     async def shout(self, text: str) -> str:
        ...         \"\"\"Shout the text.\"\"\"
        ...         return text.upper()
        >>> tool = MethodTool(Env().shout, {"text": {"type": "string"}}, "The text, loud.")
        >>> asyncio.run(tool("hi")), tool.signature()
        ('HI', 'shout(text: str) -> str')
    """

    def __init__(
        self,
        method: Callable[..., Awaitable[str]],
        properties: dict[str, dict[str, Any]],
        returns: str,
    ) -> None:
        doc = (method.__doc__ or "").strip().split("\n\n")[0]
        super().__init__(
            name=method.__name__,
            description=" ".join(doc.split()),
            input_schema={"type": "object", "properties": properties, "required": list(properties)},
            output_type="string",
            output_description=returns,
        )
        self.method = method

    async def run(self, arguments: dict[str, Any]) -> Any:
        wrong = [
            f"argument {name!r} must be a string, got {type(value).__name__}"
            for name, value in arguments.items()
            if not isinstance(value, str)
        ]
        if wrong:
            self._fail(wrong)
        return await self.method(**arguments)


def coding_oracle(solution: str, kind: AgentKind) -> Model:
    """A model that writes `solution`, submits it, and finishes (the harness self-check).

    Example:
        >>> model = coding_oracle("def f():\\n    return 1\\n", "code")
        >>> "write_solution(" in model.outputs[0]
        True
    """
    from codeagent.testing import ScriptedModel

    if kind == "code":
        code = f"write_solution({solution!r})\nprint(submit())\nfinal_answer('submitted')"
        return ScriptedModel(
            [code_action(code, thought="I submit the reference solution.")], model_id="oracle"
        )
    return ScriptedModel(
        [
            # Tool calls of one step run concurrently: write first, then submit and finish.
            tool_calls_message([("write_solution", {"code": solution})]),
            tool_calls_message([("submit", {}), ("final_answer", {"answer": "submitted"})]),
        ],
        model_id="oracle",
    )


__all__ = [
    "CODING_INSTRUCTIONS",
    "CodingEnvironment",
    "ExecutorFactory",
    "HiddenTest",
    "MethodTool",
    "OwnTestsIn",
    "append_test",
    "coding_oracle",
    "default_test_executor",
    "extract_code",
    "run_program",
]
