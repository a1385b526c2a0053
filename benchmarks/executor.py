"""Executor benchmark: snippet speed (plain CPython vs in-process language wall vs sandboxed worker), warm
round-trip, and cold worker start.

Usage::

    python benchmarks/executor.py [--repeat 5] [--json out.json]

Every snippet of ``benchmarks/snippets.py`` is timed (best of ``--repeat`` runs: on a shared machine the
minimum is the least noisy estimate of the intrinsic cost) on:

* ``cpython``: ``exec`` of the compiled snippet in a fresh dict, in this (host) process: the baseline of
  ``inprocess``;
* ``cpython fresh``: the same in a fresh ``python -I -S`` process, like a worker: the baseline of
  ``sandboxed`` (a big host heap makes the garbage collector slower, so the host is not a fair baseline
  for the lean worker);
* ``inprocess``: `InProcessExecutor` (or `CodeRunner` directly if it does not exist yet);
* ``sandboxed``: a warm `SandboxedExecutor` (bubblewrap + seccomp when available), timed from the host,
  so it includes the bridge; and the same with seccomp off, to show the filter's cost.

Then: warm round-trip of ``x = 1`` (median of many); cold start (spawn to ``ready``, then killed) per
sandbox mode, fork server first, in wall time and in CPU time of the whole machine; and the machine CPU one
executor's life costs (take a worker from the pool, init, run ``x = 1``, close; pool refills included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_cpu_seconds
from snippets import SNIPPETS

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.worker.forkserver import ForkServer
from codeagent.execution.worker.process import WorkerProcess
from codeagent.execution.worker.sandbox import (
    SpawnSpec,
    ensure_bytecode,
    python_executable,
    sandbox_status,
)

# Budgets out of the way: this measures speed, not limits.
POLICY = ExecutionPolicy(timeout_s=120, max_operations=10**12, max_output_chars=10**6)


def median_time(fn: Callable[[], Any], repeat: int, best: bool = False) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) if best else statistics.median(times)


async def amedian_time(fn: Callable[[], Awaitable[Any]], repeat: int, best: bool = False) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return min(times) if best else statistics.median(times)


def bench_cpython(code: str, repeat: int) -> float:
    compiled = compile(code, "<snippet>", "exec")

    def once() -> None:
        # Printed output is captured, as the executors capture it.
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, {"__builtins__": __builtins__})

    return median_time(once, repeat, best=True)


_FRESH_SCRIPT = """
import contextlib, io, json, sys, time
codes, repeat = json.loads(sys.stdin.read())
out = {}
for name, code in codes.items():
    compiled = compile(code, "<snippet>", "exec")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, {"__builtins__": __builtins__})
        times.append(time.perf_counter() - start)
    out[name] = min(times)
print(json.dumps(out))
"""


def bench_cpython_fresh(codes: dict[str, str], repeat: int) -> dict[str, float]:
    """Plain exec in a fresh interpreter process (same binary and flags as the worker)."""
    proc = subprocess.run(
        [python_executable(), "-I", "-S", "-c", _FRESH_SCRIPT],
        input=json.dumps([codes, repeat]),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def make_inprocess() -> tuple[str, Callable[[str, int], Awaitable[float]]]:
    """InProcessExecutor when it exists, else the CodeRunner it wraps."""
    try:
        # Imported by name: the module is being written in parallel and may not exist yet.
        executor_cls: Any = importlib.import_module("codeagent.execution.inprocess").InProcessExecutor
    except (ImportError, AttributeError):
        from codeagent.execution.language.runner import CodeRunner

        async def run_runner(code: str, repeat: int) -> float:
            def once() -> None:
                result = CodeRunner(POLICY).run(code)
                assert result.ok, result.error

            return median_time(once, repeat, best=True)

        return "CodeRunner", run_runner

    async def run_executor(code: str, repeat: int) -> float:
        async def once() -> None:
            executor = executor_cls(POLICY)
            result = await executor.run(code)
            await executor.close()
            assert result.ok, result.error

        return await amedian_time(once, repeat, best=True)

    return "InProcessExecutor", run_executor


async def bench_sandboxed(codes: dict[str, str], repeat: int, seccomp: bool | None) -> dict[str, float]:
    out = {}
    async with SandboxedExecutor(POLICY, seccomp=seccomp) as executor:
        await executor.run("pass")  # take the worker from the pool, init it

        for name, code in codes.items():

            async def once(code: str = code) -> None:
                result = await executor.run(code)
                assert result.ok, result.error

            out[name] = await amedian_time(once, repeat, best=True)
    return out


async def bench_round_trip(n: int, seccomp: bool | None = None) -> float:
    async with SandboxedExecutor(POLICY, seccomp=seccomp) as executor:
        for _ in range(20):
            await executor.run("x = 1")

        async def once() -> None:
            await executor.run("x = 1")

        return await amedian_time(once, n)


def bench_cold_start(spec: SpawnSpec, n: int, server: ForkServer | None = None) -> tuple[float, float]:
    """(median wall s, mean machine CPU s) from spawn to ``ready``, kill and reap included."""

    def once() -> None:
        worker = server.spawn() if server is not None else WorkerProcess.spawn(spec)
        worker.wait_ready(30)
        worker.kill()
        worker.reap()

    once()  # warm the page cache
    cpu = machine_cpu_seconds()
    wall = median_time(once, n)
    return wall, (machine_cpu_seconds() - cpu) / n


async def bench_executor_cycles(language_wall: bool, n: int, concurrency: int = 8) -> float:
    """Machine CPU seconds per executor life (take a worker, init, run ``x = 1``, close), pool refills
    included: what a benchmark pays per fresh sandbox."""
    from codeagent.execution.sandboxed import SandboxedExecutor
    from codeagent.execution.worker.pool import configure_pools

    policy = ExecutionPolicy(language_wall=language_wall)

    async def cycle() -> None:
        async with SandboxedExecutor(policy) as ex:
            await ex.run("x = 1")

    configure_pools(concurrency)
    for _ in range(concurrency):
        await cycle()
    await asyncio.sleep(1.0)  # a full pool
    cpu = machine_cpu_seconds()
    limit = asyncio.Semaphore(concurrency)

    async def limited() -> None:
        async with limit:
            await cycle()

    await asyncio.gather(*(limited() for _ in range(n)))
    await asyncio.sleep(1.0)  # the refills of the pool are part of the cost
    return (machine_cpu_seconds() - cpu) / n


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per snippet and engine (median)")
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--cold-starts", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=300, help="executor lives for the CPU-per-life figure")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()

    ensure_bytecode()
    status = sandbox_status()
    print(f"python {sys.version.split()[0]}  bubblewrap: {status.bwrap or 'NO'}  seccomp: {status.seccomp}")
    if status.reason:
        print(f"  ({status.reason})")

    inproc_name, inproc = make_inprocess()
    results: dict[str, Any] = {"snippets": {}}
    cpython = {name: bench_cpython(code, args.repeat) for name, code in SNIPPETS.items()}
    fresh = bench_cpython_fresh(SNIPPETS, args.repeat)
    inprocess = {name: await inproc(code, args.repeat) for name, code in SNIPPETS.items()}
    sandboxed = await bench_sandboxed(SNIPPETS, args.repeat, seccomp=None)
    no_seccomp = await bench_sandboxed(SNIPPETS, args.repeat, seccomp=False) if status.seccomp else {}

    print("\nratios: in-process vs cpython (host); sandboxed vs cpython (fresh process)")
    header = f"{'snippet':18s} {'cpython ms':>10s} {'fresh ms':>9s} {inproc_name + ' x':>14s}"
    header += f" {'sandboxed x':>12s}"
    header += f" {'no-seccomp x':>13s}" if no_seccomp else ""
    print(header)
    for name in SNIPPETS:
        base, base_fresh = cpython[name], fresh[name]
        row = {
            "cpython_s": base,
            "cpython_fresh_s": base_fresh,
            "inprocess_ratio": inprocess[name] / base,
            "sandboxed_ratio": sandboxed[name] / base_fresh,
        }
        line = (
            f"{name:18s} {base * 1000:10.2f} {base_fresh * 1000:9.2f} {row['inprocess_ratio']:14.2f}"
            f" {row['sandboxed_ratio']:12.2f}"
        )
        if no_seccomp:
            row["sandboxed_no_seccomp_ratio"] = no_seccomp[name] / base_fresh
            line += f" {row['sandboxed_no_seccomp_ratio']:13.2f}"
        print(line)
        results["snippets"][name] = row

    print()
    rt = await bench_round_trip(args.round_trips)
    results["warm_round_trip_ms"] = rt * 1000
    print(f"warm round-trip (x = 1), median of {args.round_trips}: {rt * 1000:.3f} ms")
    if status.seccomp:
        rt_off = await bench_round_trip(args.round_trips, seccomp=False)
        results["warm_round_trip_no_seccomp_ms"] = rt_off * 1000
        print(f"warm round-trip without seccomp:            {rt_off * 1000:.3f} ms")

    specs = {"bwrap+seccomp": SpawnSpec(use_bwrap=True), "bwrap": SpawnSpec(use_bwrap=True, seccomp=False)}
    if status.bwrap is None:
        specs = {}
    specs["subprocess+seccomp"] = SpawnSpec(use_bwrap=False, seccomp=status.seccomp)
    results["cold_start_ms"] = {}
    results["cold_start_cpu_ms"] = {}
    runs: list[tuple[str, SpawnSpec, ForkServer | None]] = [
        (label, spec, None) for label, spec in specs.items()
    ]
    server = None
    if status.full:
        server = ForkServer(SpawnSpec(use_bwrap=True))
        runs.insert(0, ("fork server", SpawnSpec(use_bwrap=True), server))
    for label, spec, via in runs:
        if spec.seccomp and not status.seccomp:
            continue
        cold, cpu = bench_cold_start(spec, args.cold_starts, via)
        results["cold_start_ms"][label] = cold * 1000
        results["cold_start_cpu_ms"][label] = cpu * 1000
        print(
            f"cold start (spawn -> ready -> killed), {label:18s} median of {args.cold_starts}: "
            f"{cold * 1000:5.1f} ms, machine CPU {cpu * 1000:5.1f} ms"
        )
    if server is not None:
        server.shutdown()
        for wall in (True, False):
            cpu = await bench_executor_cycles(wall, args.cycles)
            label = "language wall" if wall else "plain (language_wall=False)"
            results[f"executor_cycle_cpu_ms_{'wall' if wall else 'plain'}"] = cpu * 1000
            print(f"executor life (take, init, run, close), {label}: machine CPU {cpu * 1000:.1f} ms each")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
