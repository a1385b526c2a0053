"""The runner: every task of a benchmark through a fresh environment and agent, N at a time, each result
written to the store the moment it is known, so that a killed run resumes where it stopped.

Resume: running again under the same run name skips the tasks the store already has. A task in flight when
the process dies has no record and runs again; a finished one is never redone nor written twice.

Per task (`run_task`): build the environment (and ``await env.start()`` if it has one) → build the agent
with the environment's tools → ``arun`` under an optional wall-clock limit (``asyncio.timeout``) →
``env.score`` → ``env.close`` → `TaskRecord`.
Failures of the harness or the environment become records too (status "crashed", failure "exception"), so
one broken task never stops a run.

Example:
    >>> import asyncio
    >>> from codeagent.bench.environment import AnswerEnvironment, Benchmark, TaskSpec, answer_oracle
    >>> from codeagent.bench.store import RunStore
    >>> bench = Benchmark(
    ...     name="toy",
    ...     tasks=[TaskSpec(id="t1", prompt="6*7?")],
    ...     make_environment=lambda task: AnswerEnvironment(lambda answer: answer == 42),
    ... )
    >>> spec = AgentSpec(kind="tool", model=lambda task: answer_oracle(42, "tool"), model_id="oracle")
    >>> outcome = asyncio.run(run_benchmark(bench, spec, RunStore(":memory:"), run_name="demo"))
    >>> outcome.new[0].passed
    True
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from codeagent.bench.environment import AgentKind, Benchmark, Environment, OracleFactory, Score, TaskSpec
from codeagent.bench.records import TaskRecord, classify_failure, jsonable
from codeagent.execution.policy import ExecutionPolicy

if TYPE_CHECKING:
    from codeagent.agents import Agent, RunContext, RunResult
    from codeagent.bench.store import RunStore
    from codeagent.execution.types import Executor
    from codeagent.memory import ActionStep, AgentMemory, PlanningStep
    from codeagent.models.types import Model
    from codeagent.tools.types import Tool

#: `on_record(record, progress)` after each finished task (the CLI's progress bar).
RecordCallback = Callable[[TaskRecord, "RunProgress"], Any]


@dataclass
class AgentSpec:
    """How to build the agent for each task; picklable when its model source is (for the Ray backend).

    Args:
        kind: "code" (CodeAgent: Python actions in the sandbox) or "tool" (ToolCallingAgent: JSON calls).
        model: a `Model` shared by all tasks, a factory ``model(task) -> Model`` (stateful test models, or one
            model per Ray worker), or None for `default_model()`.
        model_id: the name stored with the run (default: the model's ``model_id``).
        max_steps: steps per task.
        policy: the CodeAgent's executor policy (timeouts, memory...).
        authorized_imports: what the CodeAgent's code may import (None: the benchmark's list, else the
            policy's).
        executor: a CodeAgent executor factory ``executor(policy)`` (None: the sandboxed executor).
        native_tools: the ToolCallingAgent uses the model's native tool calls (False: JSON in text).
        instructions: extra system-prompt text, after the benchmark's.
        agent_options: more keyword arguments for the agent (``planning_interval``, ``grammar``...).

    Example:
        >>> AgentSpec(kind="tool", max_steps=4).describe()["agent"]
        'tool'
    """

    kind: AgentKind = "code"
    model: Any = None  # Model | Callable[[TaskSpec], Model] | None (a protocol: checked in model_for)
    model_id: str | None = None
    max_steps: int = 8
    policy: ExecutionPolicy = field(default_factory=ExecutionPolicy)
    authorized_imports: Sequence[str] | None = None
    executor: Callable[[ExecutionPolicy], Executor] | None = None
    native_tools: bool = True
    instructions: str | None = None
    agent_options: dict[str, Any] = field(default_factory=dict)

    def model_for(self, task: TaskSpec) -> Model:
        """The model that runs `task`."""
        return model_from(self.model, task, what="AgentSpec.model")

    @property
    def label(self) -> str:
        """The model's name as stored with the run."""
        if self.model_id:
            return self.model_id
        name = getattr(self.model, "model_id", None)
        if isinstance(name, str):
            return name
        return "default" if self.model is None else getattr(self.model, "__name__", type(self.model).__name__)

    def describe(self) -> dict[str, Any]:
        """The configuration stored with a run (identity keys: model, agent, max_steps)."""
        return {
            "model": self.label,
            "agent": self.kind,
            "max_steps": self.max_steps,
            "timeout_s": self.policy.timeout_s,
            "native_tools": self.native_tools if self.kind == "tool" else None,
        }

    def build(
        self,
        benchmark: Benchmark,
        task: TaskSpec,
        tools: Sequence[Tool | Callable[..., Any]],
        *,
        step_callbacks: Sequence[Callable[..., Any]] = (),
    ) -> Agent:
        """A fresh agent for `task`, with the environment's tools and the benchmark's instructions."""
        from codeagent.agents import CodeAgent, ToolCallingAgent

        instructions = "\n\n".join(s for s in (benchmark.instructions, self.instructions) if s) or None
        options: dict[str, Any] = {
            "model": self.model_for(task),
            "tools": list(tools),
            "max_steps": self.max_steps,
            "instructions": instructions,
            "step_callbacks": list(step_callbacks),
            # Trajectories are stored per task: the per-step model inputs are derivable from the steps
            # (memory_to_messages) and would make each record O(steps²) in size.
            "record_model_inputs": False,
            **self.agent_options,
        }
        if self.kind == "tool":
            return ToolCallingAgent(**options, native_tools=self.native_tools)
        imports = self.authorized_imports
        if imports is None and benchmark.authorized_imports is not None:
            imports = benchmark.authorized_imports
        policy = self.policy if imports is None else replace(self.policy, authorized_imports=tuple(imports))
        return CodeAgent(**options, policy=policy, executor=self.executor)


@dataclass(frozen=True)
class OracleModels:
    """A picklable model factory from a benchmark's oracle: ``OracleModels(bench.oracles["oracle"], "code")``.

    Example:
        >>> from codeagent.bench.environment import answer_oracle
        >>> factory = OracleModels(lambda task, kind: answer_oracle(1, kind), "tool", name="oracle")
        >>> factory(TaskSpec(id="t", prompt="?")).model_id
        'oracle'
    """

    oracle: OracleFactory
    kind: AgentKind
    name: str = "oracle"

    def __call__(self, task: TaskSpec) -> Model:
        return self.oracle(task, self.kind)

    @property
    def model_id(self) -> str:
        return self.name


@dataclass
class RunProgress:
    """Live counters of a run, for progress bars."""

    total: int
    skipped: int = 0
    done: int = 0
    passed: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def success_rate(self) -> float:
        return self.passed / self.done if self.done else 0.0

    def add(self, record: TaskRecord) -> None:
        self.done += 1
        self.passed += int(record.passed)
        self.cost_usd += record.cost_usd or 0.0


@dataclass
class RunOutcome:
    """What `run_benchmark` did: the run's name, the tasks skipped (already done), the new records."""

    name: str
    total: int
    skipped: int
    new: list[TaskRecord]
    wall_s: float


async def run_task(
    benchmark: Benchmark,
    task: TaskSpec,
    spec: AgentSpec,
    *,
    run_name: str,
    task_timeout_s: float | None = None,
) -> TaskRecord:
    """Run one task end to end and return its record; never raises for the task's own failures.

    Example:
        >>> async def one(bench: Benchmark) -> bool:
        ...     record = await run_task(bench, bench.tasks[0], AgentSpec(), run_name="r")
        ...     return record.passed
    """
    started = time.perf_counter()
    memory_box: dict[str, AgentMemory] = {}

    def keep_memory(step: ActionStep | PlanningStep, run: RunContext) -> None:
        memory_box.setdefault("memory", run.memory)  # a run's memory object never changes: keep a handle

    result: RunResult | None = None
    status = "crashed"
    error: str | None = None
    score = Score.of(False)
    env: Environment | None = None
    try:
        env = benchmark.make_environment(task)
        start = getattr(env, "start", None)
        if start is not None:  # optional: environments that set up asynchronously (an MCP server, say)
            await start()
        agent = spec.build(benchmark, task, env.tools(), step_callbacks=[keep_memory])
        try:
            async with asyncio.timeout(task_timeout_s) as deadline:
                result = await agent.arun(task.prompt)
            status, error = result.status, result.error
        except TimeoutError:
            if not deadline.expired():
                raise
            status, error = "timeout", f"the task exceeded its wall-clock limit of {task_timeout_s:g} s"
        score = await env.score(result)
    except Exception as exc:  # the harness or the environment failed: record it, keep the run going
        status, error = "crashed", f"{type(exc).__name__}: {exc}"
    finally:
        if env is not None:
            try:
                await env.close()
            except Exception as exc:
                error = error or f"closing the environment failed: {type(exc).__name__}: {exc}"
    memory = result.memory if result is not None else memory_box.get("memory")
    return make_record(
        run_name,
        task,
        result=result,
        memory=memory,
        status=status,
        error=error,
        score=score,
        duration_s=time.perf_counter() - started,
    )


def make_record(
    run_name: str,
    task: TaskSpec,
    *,
    result: RunResult | None,
    memory: AgentMemory | None,
    status: str,
    error: str | None,
    score: Score,
    duration_s: float,
) -> TaskRecord:
    """Assemble a `TaskRecord` from a run's result (or its partial memory) and its score."""
    from codeagent.memory import ActionStep

    usage = result.usage if result is not None else (memory.usage if memory is not None else None)
    steps = [s for s in memory.steps if isinstance(s, ActionStep)] if memory is not None else []
    last_error = steps[-1].error.kind if steps and steps[-1].error is not None else None
    details = dict(score.details)
    return TaskRecord(
        run=run_name,
        task_id=task.id,
        category=task.category,
        passed=score.passed,
        score=score.score,
        status=status,
        failure=classify_failure(
            passed=score.passed, status=status, last_error_kind=last_error, details=details
        ),
        answer=jsonable(result.answer) if result is not None else None,
        error=error,
        steps=len(steps),
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost_usd=usage.cost_usd if usage else None,
        duration_s=duration_s,
        details=details,
        trajectory=memory.to_json() if memory is not None else None,
        worker=f"{socket.gethostname()} pid {os.getpid()}",
    )


def model_from(source: Any, task: TaskSpec, *, what: str = "the model") -> Model:
    """A model for `task` from a source: a `Model` (shared), a factory ``source(task) -> Model``, or None
    for `default_model()` (the environment's model, else the embedded one).

    Example:
        >>> from codeagent.testing import ScriptedModel
        >>> model_from(lambda task: ScriptedModel(["hi"]), TaskSpec(id="t", prompt="?")).outputs
        ['hi']
    """
    from codeagent.models.types import Model

    if source is None:
        from codeagent.models.embedded import default_model

        return default_model()
    if isinstance(source, Model):
        return source
    if callable(source):
        model = source(task)
        if not isinstance(model, Model):
            raise TypeError(f"the model factory returned {type(model).__name__}, not a Model")
        return model
    raise TypeError(f"{what} must be a Model, a factory or None, not {type(source).__name__}")


def open_run(
    benchmark: Benchmark,
    spec: AgentSpec,
    store: RunStore,
    *,
    run_name: str | None,
    concurrency: int,
    task_timeout_s: float | None,
    backend: str,
    extra_config: Mapping[str, Any] | None,
    force: bool,
) -> tuple[str, list[TaskSpec], RunProgress]:
    """What every backend does first: record the run's configuration in the store (or check it against the
    stored one on resume) and find the tasks left to do. Returns the run's name, those tasks, the progress."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    name = run_name or default_run_name(benchmark, spec)
    config = {
        "benchmark": benchmark.name,
        **spec.describe(),
        "tasks": len(benchmark.tasks),
        "concurrency": concurrency,
        "task_timeout_s": task_timeout_s,
        "backend": backend,
        **dict(extra_config or {}),
    }
    store.start_run(name, benchmark=benchmark.name, config=config, force=force)
    finished = store.finished_ids(name)
    pending = [t for t in benchmark.tasks if t.id not in finished]
    progress = RunProgress(total=len(benchmark.tasks), skipped=len(benchmark.tasks) - len(pending))
    return name, pending, progress


def default_run_name(benchmark: Benchmark, spec: AgentSpec) -> str:
    """``<benchmark>-<model>-<agent>``, with characters unsafe in file names replaced.

    Example:
        >>> default_run_name(Benchmark(name="humaneval", tasks=[], make_environment=print),
        ...                  AgentSpec(model_id="org/model:q4"))
        'humaneval-org_model_q4-code'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{benchmark.name}-{spec.label}-{spec.kind}")


async def run_benchmark(
    benchmark: Benchmark,
    spec: AgentSpec,
    store: RunStore,
    *,
    run_name: str | None = None,
    concurrency: int = 8,
    task_timeout_s: float | None = None,
    on_record: RecordCallback | None = None,
    warm_workers: int | None = None,
    extra_config: Mapping[str, Any] | None = None,
    force: bool = False,
) -> RunOutcome:
    """Run every task of `benchmark` not yet in `store` under `run_name`, `concurrency` at a time.

    Each finished task is committed to the store before the next one is taken, so killing the process
    loses at most the tasks in flight (they run again when the same command is repeated).

    Args:
        warm_workers: sandbox workers kept booted (`configure_pools`); default: `concurrency` when the
            agent writes code or the benchmark runs sandboxes, else none.
        extra_config: stored with the run (e.g. dataset options); identity keys must match on resume.
        force: resume even if the stored configuration differs (see `RunStore.start_run`).
    """
    name, pending, progress = await asyncio.to_thread(
        partial(
            open_run,
            benchmark,
            spec,
            store,
            run_name=run_name,
            concurrency=concurrency,
            task_timeout_s=task_timeout_s,
            backend="asyncio",
            extra_config=extra_config,
            force=force,
        )
    )
    new: list[TaskRecord] = []
    started = time.perf_counter()
    if not pending:
        return RunOutcome(name, progress.total, progress.skipped, new, 0.0)

    queue: asyncio.Queue[TaskSpec] = asyncio.Queue()
    for task in pending:
        queue.put_nowait(task)

    async def worker() -> None:
        while True:
            try:
                task = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await run_task(benchmark, task, spec, run_name=name, task_timeout_s=task_timeout_s)
            await asyncio.to_thread(store.add, record)
            new.append(record)
            progress.add(record)
            if on_record is not None:
                on_record(record, progress)

    workers_needed = min(concurrency, len(pending))
    if warm_workers is None:
        warm_workers = workers_needed if (spec.kind == "code" or benchmark.sandboxed) else 0
    with warm_pool(warm_workers):
        async with asyncio.TaskGroup() as group:  # a failing store stops the run (and cancels the rest)
            for _ in range(workers_needed):
                group.create_task(worker())
    return RunOutcome(name, progress.total, progress.skipped, new, time.perf_counter() - started)


@contextmanager
def warm_pool(n: int) -> Iterator[None]:
    """Keep `n` sandbox workers booted while the block runs (`configure_pools`), then restore the setting."""
    from codeagent.execution.worker import pool

    previous = pool.DEFAULT_MIN_IDLE
    if n > previous:
        pool.configure_pools(n)
    try:
        yield
    finally:
        if n > previous:
            pool.configure_pools(previous)


__all__ = [
    "AgentSpec",
    "OracleModels",
    "RecordCallback",
    "RunOutcome",
    "RunProgress",
    "default_run_name",
    "make_record",
    "model_from",
    "open_run",
    "run_benchmark",
    "run_task",
    "warm_pool",
]
