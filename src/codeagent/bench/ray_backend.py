"""The Ray backend: each task runs as one Ray task (``asyncio.run`` of `run_task` inside a Ray worker), and
the driver writes each result to the same `RunStore` as soon as ``ray.wait`` hands it back.

Resume works exactly as with the asyncio runner (same run name → finished tasks skipped), because only the
driver writes, one committed row per task. A Ray task that fails outright (worker died, object lost) is
recorded as "crashed" with its error, like a harness failure in the asyncio runner.

What travels to the workers is pickled by Ray (cloudpickle): the `Benchmark` (once, with ``ray.put``), the
`AgentSpec` and each `TaskSpec`. Use model *factories* that build their client in the worker (e.g.
`codeagent.bench.runner.OracleModels`, or the CLI's model factory) rather than live clients.

Example:
    >>> import ray  # doctest: +SKIP
    >>> ray.init(num_cpus=2, include_dashboard=False)  # doctest: +SKIP
    >>> outcome = run_benchmark_ray(bench, spec, RunStore("bench.sqlite"), concurrency=16)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from codeagent.bench.environment import Benchmark, Score, TaskSpec
from codeagent.bench.records import TaskRecord
from codeagent.bench.runner import (
    AgentSpec,
    RecordCallback,
    RunOutcome,
    make_record,
    open_run,
    run_task,
)
from codeagent.bench.store import RunStore


def _ray_task(
    benchmark: Benchmark, spec: AgentSpec, task: TaskSpec, run_name: str, task_timeout_s: float | None
) -> dict[str, Any]:
    """Body of one Ray task: run the agent task in a fresh event loop, return the record as a dict."""
    import socket

    record = asyncio.run(run_task(benchmark, task, spec, run_name=run_name, task_timeout_s=task_timeout_s))
    record.worker = f"ray {socket.gethostname()} {record.worker.split(' ', 1)[-1]}"
    return record.to_dict()


def run_benchmark_ray(
    benchmark: Benchmark,
    spec: AgentSpec,
    store: RunStore,
    *,
    run_name: str | None = None,
    concurrency: int = 8,
    task_timeout_s: float | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: float = 1.0,
    on_record: RecordCallback | None = None,
    extra_config: Mapping[str, Any] | None = None,
    force: bool = False,
) -> RunOutcome:
    """Run the unfinished tasks of `benchmark` on a Ray cluster, at most `concurrency` at once.

    Args:
        address: the cluster to join ("auto", "ray://host:10001"); None with no running Ray: start a local one
            (``num_cpus`` CPUs, no dashboard), shut down again at the end.
        cpus_per_task: Ray CPU resource per task (agent tasks mostly wait on the model: fractions like 0.25
            let more of them share a core).
    """
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs ray: pip install 'ray>=2.9'") from None
    name, pending, progress = open_run(
        benchmark,
        spec,
        store,
        run_name=run_name,
        concurrency=concurrency,
        task_timeout_s=task_timeout_s,
        backend="ray",
        extra_config=extra_config,
        force=force,
    )
    new: list[TaskRecord] = []
    started = time.perf_counter()
    if not pending:
        return RunOutcome(name, progress.total, progress.skipped, new, 0.0)

    started_ray = False
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True)
        started_ray = True  # a local cluster stops, a remote one is only disconnected from
    try:
        remote = ray.remote(num_cpus=cpus_per_task, max_retries=0)(_ray_task)
        benchmark_ref = ray.put(benchmark)
        spec_ref = ray.put(spec)
        queue = list(reversed(pending))
        in_flight: dict[Any, TaskSpec] = {}
        while queue or in_flight:
            while queue and len(in_flight) < concurrency:
                task = queue.pop()
                ref = remote.remote(benchmark_ref, spec_ref, task, name, task_timeout_s)
                in_flight[ref] = task
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    record = TaskRecord.from_dict(ray.get(ref))
                except Exception as exc:  # the Ray task itself failed: record it, keep going
                    record = make_record(
                        name,
                        task,
                        result=None,
                        memory=None,
                        status="crashed",
                        error=f"Ray task failed: {type(exc).__name__}: {exc}",
                        score=Score.of(False),
                        duration_s=0.0,
                    )
                store.add(record)
                new.append(record)
                progress.add(record)
                if on_record is not None:
                    on_record(record, progress)
    finally:
        if started_ray:
            ray.shutdown()
    return RunOutcome(name, progress.total, progress.skipped, new, time.perf_counter() - started)


__all__ = ["run_benchmark_ray"]
