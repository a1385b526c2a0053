"""The environment seam of the evaluation harness: tasks, scores, environments and benchmarks.

An **environment** is one task's world: it hands the agent its tools (its agent-computer interface), keeps
a hidden scorer the agent never sees, and turns the finished run into a `Score`. A **benchmark** is a list
of `TaskSpec`s plus a factory that builds a fresh environment per task. Both are plain Python: write your
own by implementing the three methods of `Environment` (or reuse `AnswerEnvironment` when only the final
answer is checked). An environment that must set up asynchronously (start a server, say) may also have an
``async start()``: the runner awaits it before asking for `tools` (see `codeagent.bench.tau2`).

Example:
    >>> import asyncio
    >>> from codeagent.testing import ScriptedModel
    >>> tasks = [TaskSpec(id="t1", prompt="What is 6 times 7?", metadata={"answer": 42})]
    >>> bench = Benchmark(
    ...     name="toy",
    ...     tasks=tasks,
    ...     make_environment=lambda task: AnswerEnvironment(
    ...         lambda answer: Score.of(answer == task.metadata["answer"])
    ...     ),
    ... )
    >>> env = bench.make_environment(tasks[0])
    >>> asyncio.run(env.score(None)).passed  # no run at all: nothing to check
    False
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from codeagent.models.types import ChatMessage, ToolCall

if TYPE_CHECKING:
    from codeagent.agents.result import RunResult
    from codeagent.models.types import Model
    from codeagent.tools.types import Tool

#: How the agent acts: Python code actions (CodeAgent) or JSON tool calls (ToolCallingAgent).
AgentKind = Literal["code", "tool"]


@dataclass(frozen=True)
class TaskSpec:
    """One task of a benchmark.

    `prompt` is what the agent is asked; `metadata` holds everything else the environment needs, including
    the hidden parts (unit tests, expected answers), which never reach the agent.

    Example:
        >>> TaskSpec(id="HumanEval/0", prompt="def f(): ...", category="humaneval").category
        'humaneval'
    """

    id: str
    prompt: str
    category: str = "default"
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Score:
    """What an environment says about a finished run: a score in [0, 1], pass/fail, and details.

    `details` is stored with the result (JSON); ``details["failure"]``, when an environment sets it (e.g.
    "timeout" when its hidden tests timed out), overrides the failure category the harness would derive.

    Example:
        >>> Score.of(True).score, Score(score=0.5, passed=False).passed
        (1.0, False)
    """

    score: float
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, passed: bool, **details: Any) -> Score:
        """A pass/fail score: 1.0 or 0.0."""
        return cls(score=1.0 if passed else 0.0, passed=bool(passed), details=dict(details))


@runtime_checkable
class Environment(Protocol):
    """One task's world: the agent's tools and a hidden scorer. Built fresh for every task.

    Example:
        >>> class Echo:
        ...     def tools(self) -> list[Any]:
        ...         return []
        ...     async def score(self, result: RunResult | None) -> Score:
        ...         return Score.of(result is not None and result.answer == "echo")
        ...     async def close(self) -> None:
        ...         pass
        >>> isinstance(Echo(), Environment)
        True
    """

    def tools(self) -> Sequence[Tool | Callable[..., Any]]:
        """The tools the agent gets for this task (host-side; the CodeAgent calls them over the bridge)."""
        ...

    async def score(self, result: RunResult | None) -> Score:
        """Score the finished run; `result` is None when the run never finished (crash, wall-clock limit)."""
        ...

    async def close(self) -> None:
        """Release what the environment holds (sandboxes, files). Called once, after `score`."""
        ...


#: A check of a final answer: `check(answer) -> Score | bool | float` (sync or async).
AnswerCheck = Callable[[Any], "Score | bool | float | Awaitable[Score | bool | float]"]


class AnswerEnvironment:
    """An environment without tools whose hidden scorer checks the final answer only.

    Example:
        >>> import asyncio
        >>> env = AnswerEnvironment(lambda answer: answer == 4)
        >>> env.tools()
        []
    """

    def __init__(self, check: AnswerCheck, tools: Sequence[Tool | Callable[..., Any]] = ()) -> None:
        self.check = check
        self._tools = list(tools)

    def tools(self) -> Sequence[Tool | Callable[..., Any]]:
        return list(self._tools)

    async def score(self, result: RunResult | None) -> Score:
        if result is None:
            return Score.of(False, reason="the run did not finish")
        if result.status == "error":
            return Score.of(False, reason="the run ended with an error")
        return await as_score(self.check(result.answer))

    async def close(self) -> None:
        return None


async def as_score(value: Any) -> Score:
    """Turn a checker's return value (Score, bool, number in [0, 1], possibly awaitable) into a `Score`."""
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, Score):
        return value
    if isinstance(value, bool) or value is None:
        return Score.of(bool(value))
    if isinstance(value, int | float):
        score = min(1.0, max(0.0, float(value)))
        return Score(score=score, passed=score >= 1.0)
    raise TypeError(f"a checker must return a Score, a bool or a number, not {type(value).__name__}")


#: Builds a model that solves (or deliberately fails) a task: `oracle(task, agent_kind) -> Model`.
OracleFactory = Callable[[TaskSpec, AgentKind], "Model"]


@dataclass
class Benchmark:
    """A dataset of tasks and the environment factory that evaluates them.

    Args:
        name: short name, stored with every run (e.g. "humaneval").
        tasks: the tasks, in order.
        make_environment: builds a *fresh* environment for one task (called once per task and attempt).
        instructions: extra system-prompt text for the agent (how to use the environment's tools).
        authorized_imports: what a CodeAgent's code may import for this benchmark (None: the policy default).
        oracles: named model factories for harness self-checks, e.g. "oracle" (submits the reference
            solution) and "empty" (submits nothing); ``codeagent bench run ... --model oracle`` uses them.
        sandboxed: the environment runs code in sandbox workers (hidden tests): the runner keeps a warm pool.

    Example:
        >>> bench = Benchmark(name="toy", tasks=[TaskSpec(id="a", prompt="?"), TaskSpec(id="b", prompt="?")],
        ...                   make_environment=lambda task: AnswerEnvironment(lambda answer: True))
        >>> [t.id for t in bench.select(ids=["b"]).tasks]
        ['b']
    """

    name: str
    tasks: list[TaskSpec]
    make_environment: Callable[[TaskSpec], Environment]
    instructions: str | None = None
    authorized_imports: tuple[str, ...] | None = None
    oracles: dict[str, OracleFactory] = field(default_factory=dict)
    sandboxed: bool = False

    def select(
        self,
        *,
        ids: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Benchmark:
        """A benchmark with a subset of the tasks (ids and categories filter; limit keeps the first N)."""
        tasks = self.tasks
        if ids is not None:
            wanted = set(ids)
            unknown = wanted - {t.id for t in tasks}
            if unknown:
                raise ValueError(f"unknown task ids: {sorted(unknown)[:5]}")
            tasks = [t for t in tasks if t.id in wanted]
        if categories is not None:
            cats = set(categories)
            tasks = [t for t in tasks if t.category in cats]
        if limit is not None:
            tasks = tasks[:limit]
        return replace(self, tasks=list(tasks))


# ---- helpers for oracle models: scripted outputs in each agent's action format ---------------------------


def code_action(code: str, thought: str = "I run this code.") -> str:
    """A CodeAgent model output running `code` (for scripted and oracle models).

    Example:
        >>> print(code_action("final_answer(4)", thought="Easy."))
        Thought: Easy.
        ```python
        final_answer(4)
        ```
    """
    return f"Thought: {thought}\n```python\n{code}\n```"


def tool_calls_message(calls: Sequence[tuple[str, Mapping[str, Any]]], text: str = "") -> ChatMessage:
    """A ToolCallingAgent model output calling tools natively, e.g. ``[("final_answer", {"answer": 4})]``.

    Example:
        >>> tool_calls_message([("final_answer", {"answer": 4})]).tool_calls[0].name
        'final_answer'
    """
    return ChatMessage(
        role="assistant",
        content=text or None,
        tool_calls=[
            ToolCall(id=f"call_{i}", name=name, arguments=dict(arguments))
            for i, (name, arguments) in enumerate(calls)
        ],
    )


def answer_oracle(answer: Any, kind: AgentKind) -> Model:
    """A model that answers `answer` at once: a code action ``final_answer(...)`` or a final_answer call.

    Example:
        >>> import asyncio
        >>> from codeagent import CodeAgent
        >>> asyncio.run(CodeAgent(model=answer_oracle(42, "code")).arun("?")).answer  # doctest: +SKIP
        42
    """
    from codeagent.testing import ScriptedModel

    if kind == "code":
        return ScriptedModel([code_action(f"final_answer({answer!r})")], model_id="oracle")
    return ScriptedModel([tool_calls_message([("final_answer", {"answer": answer})])], model_id="oracle")


__all__ = [
    "AgentKind",
    "AnswerCheck",
    "AnswerEnvironment",
    "Benchmark",
    "Environment",
    "OracleFactory",
    "Score",
    "TaskSpec",
    "answer_oracle",
    "as_score",
    "code_action",
    "tool_calls_message",
]
