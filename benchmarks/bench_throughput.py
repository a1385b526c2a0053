"""Throughput of the evaluation harness (issue: evaluation harness).

All 164 HumanEval tasks, a scripted model that sleeps LATENCY s per call and needs 3 steps (write the
canonical solution, run a test of its own, submit), CONCURRENCY tasks at once, results in a SQLite store.
The latency bound is ceil(TASKS / CONCURRENCY) * 3 * LATENCY (every task waits 3 model calls and no
more); we print wall time / bound (target <= 1.3) for three set-ups:

- ``code``: the real thing. CodeAgent, its actions in a sandboxed worker, ``run_tests`` in a fresh namespace
  of that worker (the coding environment's default, see `codeagent.bench.coding`), the hidden tests in a
  fresh sandboxed worker (2 sandboxes per task); ``code-fresh``: the same with ``own_tests_in=
  "test_executor"``, a fresh sandbox for ``run_tests`` too (3 per task);
- ``tool``: ToolCallingAgent (tools called natively, no sandbox for the agent's actions); own tests and hidden
  tests in fresh sandboxes (2 per task);
- ``baseline``: the same CodeAgent, but its three scripted actions are run by a tiny trusted interpreter on
  the host and the tests by a stand-in executor that runs nothing: the harness alone (agent loop,
  environment, store), no sandbox at all;
- ``tests``: as ``baseline``, but the test programs really run, with ``exec`` in a host thread: the harness
  plus the CPU work of the tests themselves (HumanEval's hidden tests take ~0.4 s of CPU in all, 0.26 s of
  it HumanEval/75), still no sandbox.

Sandbox overhead per task, two ways: "sandbox cpu" = cpu/task(mode) - cpu/task(tests), the machine CPU the
sandboxes cost per task (processes, isolation, the language wall, the bridge), and "over model", the mean task
latency above the model's 3 * LATENCY (``tests`` shows what the harness and the tests alone add). "cpu/task"
is busy CPU of the whole machine (host and sandboxes) per task; "host cpu" the part of it spent in this
process (harness, agents, executors' host side). Wall time is not a measure of the sandboxes' cost: the
``tests`` mode runs the hidden tests in host threads, which the GIL serialises, so it can be the slower one.

    python benchmarks/bench_throughput.py [--tasks 164 --concurrency 64 --latency 0.2 --modes code,tool]
                                          [--repeat 5]   # the machine is noisy: take medians
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine_cpu_seconds

from codeagent.bench import AgentSpec, RunStore, TaskSpec, code_action, run_benchmark, tool_calls_message
from codeagent.bench.datasets.humaneval import humaneval_benchmark
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionError, ExecutionResult
from codeagent.testing import ScriptedModel

OWN_TEST = "assert True"


def scripted(kind: str, latency: float):
    """Per task: write the canonical solution, run an own test, submit (3 model calls)."""

    def factory(task: TaskSpec) -> ScriptedModel:
        solution = str(task.metadata["canonical_solution"])
        if kind == "code":
            steps: list[Any] = [
                code_action(f"print(write_solution({solution!r}))"),
                code_action(f"print(run_tests({OWN_TEST!r}))"),
                code_action("print(submit())\nfinal_answer('submitted')"),
            ]
        else:
            steps = [
                tool_calls_message([("write_solution", {"code": solution})]),
                tool_calls_message([("run_tests", {"test_code": OWN_TEST})]),
                tool_calls_message([("submit", {}), ("final_answer", {"answer": "submitted"})]),
            ]
        return ScriptedModel(steps, delay=latency, model_id="scripted", record=False)

    return factory


class ScriptExecutor:
    """Runs the benchmark's own scripted actions on the host, without a sandbox (baseline only).

    Understands exactly what `scripted` writes: statements made of calls to tools, ``print`` and
    ``final_answer`` with literal arguments. Not an executor for anything else.
    """

    def __init__(self, policy: ExecutionPolicy) -> None:
        self.tools: dict[str, Any] = {}

    async def send_tools(self, tools: Any) -> None:
        self.tools.update(tools)

    async def send_variables(self, variables: Any) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, code: str) -> ExecutionResult:
        logs: list[str] = []
        for statement in ast.parse(code).body:
            assert isinstance(statement, ast.Expr)
            value, final = await self._eval(statement.value, logs)
            if final:
                return ExecutionResult(logs="".join(logs), value=value, is_final_answer=True)
        return ExecutionResult(logs="".join(logs))

    async def _eval(self, node: ast.expr, logs: list[str]) -> tuple[Any, bool]:
        if not isinstance(node, ast.Call):
            return ast.literal_eval(node), False
        assert isinstance(node.func, ast.Name)
        args = [(await self._eval(arg, logs))[0] for arg in node.args]
        if node.func.id == "print":
            logs.append(" ".join(map(str, args)) + "\n")
            return None, False
        if node.func.id == "final_answer":
            return args[0], True
        return await self.tools[node.func.id](*args), False


class NoSandbox:
    """Stand-in test executor for the baseline: no process, no code run; passes any non-empty program."""

    def __init__(self, policy: ExecutionPolicy) -> None:
        self.policy = policy

    async def run(self, code: str) -> ExecutionResult:
        return ExecutionResult(logs="")

    async def send_variables(self, variables: Any) -> None:
        return None

    async def send_tools(self, tools: Any) -> None:
        return None

    async def close(self) -> None:
        return None


class HostTests(NoSandbox):
    """Test executor of the ``tests`` mode: runs the (trusted, dataset) test program with ``exec`` in a host
    thread, no sandbox: the CPU work of the tests themselves, without any process or isolation cost."""

    async def run(self, code: str) -> ExecutionResult:
        return await asyncio.to_thread(self._run, code)

    def _run(self, code: str) -> ExecutionResult:
        try:
            exec(compile(code, "<tests>", "exec"), {"__name__": "__main__"})
        except BaseException as exc:
            kind = ErrorKind.RUNTIME
            return ExecutionResult(error=ExecutionError(kind=kind, message=str(exc), type=type(exc).__name__))
        return ExecutionResult(logs="")


async def warm_up(concurrency: int) -> None:
    """Boot the warm pool (as the runner does) and wait until it is full, so that timing starts warm."""
    from codeagent.execution.sandboxed import SandboxedExecutor
    from codeagent.execution.worker import pool

    pool.configure_pools(concurrency)
    async with SandboxedExecutor() as executor:
        await executor.run("x = 1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        idle = sum(p.idle_count() for p in pool._pools.values())
        if idle >= concurrency:
            return
        await asyncio.sleep(0.2)


async def measure(mode: str, tasks: int, concurrency: int, latency: float, folder: Path) -> dict[str, float]:
    host_only = mode in ("baseline", "tests")
    options: dict[str, Any] = (
        {"test_executor": NoSandbox if mode == "baseline" else HostTests} if host_only else {}
    )
    if mode == "code-fresh":
        options["own_tests_in"] = "test_executor"
    bench = humaneval_benchmark(**options).select(limit=tasks)
    kind = "tool" if mode == "tool" else "code"
    spec = AgentSpec(
        kind=kind,
        model=scripted(kind, latency),
        model_id="scripted",
        max_steps=4,
        executor=ScriptExecutor if host_only else None,
    )
    # Warm up: first imports, prompt templates, and (sandboxed modes) a full pool of booted workers.
    with RunStore(folder / f"{mode}-warm-up.sqlite") as store:
        quick = AgentSpec(kind=kind, model=scripted(kind, 0.0), model_id="scripted", executor=spec.executor)
        await run_benchmark(bench.select(limit=2), quick, store, run_name="warm-up", warm_workers=0)
    if not host_only:
        await warm_up(concurrency)
    with RunStore(folder / f"{mode}.sqlite") as store:
        cpu = machine_cpu_seconds()
        host_cpu = time.process_time()
        started = time.perf_counter()
        outcome = await run_benchmark(
            bench,
            spec,
            store,
            run_name=mode,
            concurrency=concurrency,
            warm_workers=0 if host_only else None,
        )
        wall = time.perf_counter() - started
        cpu = machine_cpu_seconds() - cpu
        host_cpu = time.process_time() - host_cpu
    records = outcome.new
    odd = [r for r in records if r.steps != 3]
    assert len(records) == tasks, f"{len(records)} of {tasks} tasks recorded"
    assert not odd, f"every task must take 3 steps; {odd[0].task_id}: {odd[0].steps} ({odd[0].error})"
    bound = math.ceil(tasks / concurrency) * 3 * latency
    durations = [r.duration_s for r in records]
    return {
        "wall": wall,
        "bound": bound,
        "ratio": wall / bound,
        "passed": sum(r.passed for r in records),
        "latency_mean": statistics.mean(durations),
        "latency_p90": sorted(durations)[int(0.9 * (len(durations) - 1))],
        "cpu_per_task": cpu / tasks,
        "host_cpu_per_task": host_cpu / tasks,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=164)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--modes", default="baseline,tests,code,code-fresh,tool")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (modes interleaved); medians shown")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            for mode in modes:
                folder = Path(tmp) / f"round-{round_}"
                folder.mkdir(exist_ok=True)
                runs[mode].append(await measure(mode, args.tasks, args.concurrency, args.latency, folder))
    results = {mode: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for mode, rs in runs.items()}
    model_time = 3 * args.latency
    print(
        f"{args.tasks} tasks x 3 steps, model latency {args.latency} s/call, concurrency {args.concurrency}"
        + (f"; medians of {args.repeat} rounds" if args.repeat > 1 else "")
    )
    print(f"{'mode':10} {'wall s':>7} {'bound s':>7} {'ratio':>6} {'passed':>6} {'task s':>7} {'p90 s':>6} "
          f"{'over model':>10} {'cpu/task':>9} {'host cpu':>8} {'sandbox cpu':>11} "
          f"{'ratio range':>12}")  # fmt: skip
    base = results.get("tests")
    for mode, r in results.items():
        sandbox = (
            ""
            if base is None or mode in ("baseline", "tests")
            else f"{1000 * (r['cpu_per_task'] - base['cpu_per_task']):.1f}ms"
        )
        ratios = [run["ratio"] for run in runs[mode]]
        print(
            f"{mode:10} {r['wall']:7.2f} {r['bound']:7.2f} {r['ratio']:6.2f} {int(r['passed']):6d} "
            f"{r['latency_mean']:7.2f} {r['latency_p90']:6.2f} {r['latency_mean'] - model_time:9.2f}s "
            f"{1000 * r['cpu_per_task']:7.1f}ms "
            f"{1000 * r['host_cpu_per_task']:6.1f}ms {sandbox:>11} {min(ratios):5.2f}-{max(ratios):.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
