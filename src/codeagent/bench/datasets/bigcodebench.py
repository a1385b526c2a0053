"""BigCodeBench from a user-supplied local file in its official format (JSONL, JSONL.gz or parquet).

Fields used: ``task_id``, ``complete_prompt``, ``instruct_prompt``, ``canonical_solution``, ``code_prompt``,
``test`` (a ``unittest`` module defining ``TestCases``), ``entry_point`` and ``libs`` (a list, or its string
form as in the published files). Split "complete" asks the agent to finish ``complete_prompt``; split
"instruct" gives it ``instruct_prompt``.

Hidden test program: the solution, the task's ``test`` code, then a few lines that run ``TestCases`` with
``unittest`` and raise if any test failed. **Sandbox note:** the language wall refuses ``unittest`` (and
``unittest.mock``, which most BigCodeBench tests use), and many tasks need third-party packages, files or
the network; with the default executor these tasks fail with a ForbiddenError in ``details["error"]``. Pass
``test_executor=`` an executor suited to BigCodeBench (e.g. a container) to evaluate it for real.

Example:
    >>> bench = bigcodebench_benchmark("bigcodebench-hard.jsonl", split="instruct")  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import importlib
import json
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from codeagent.bench.coding import (
    CODING_INSTRUCTIONS,
    CodingEnvironment,
    ExecutorFactory,
    OwnTestsIn,
    coding_oracle,
    default_test_executor,
)
from codeagent.bench.datasets.humaneval import read_jsonl, task_prompt
from codeagent.bench.environment import AgentKind, Benchmark, TaskSpec
from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.models.types import Model

Split = Literal["complete", "instruct"]

#: BigCodeBench's tests are heavier than HumanEval's (pandas, matplotlib...); the official limit is 240 s
#: for the whole file, we default to a per-task limit.
DEFAULT_TEST_TIMEOUT_S = 60.0

_REQUIRED = ("task_id", "complete_prompt", "instruct_prompt", "canonical_solution", "test", "entry_point")

#: Appended to the solution and the tests: run TestCases, fail loudly with the failing tests' names.
_RUN_UNITTEST = """

import unittest
suite = unittest.TestLoader().loadTestsFromTestCase(TestCases)
outcome = unittest.TextTestRunner(verbosity=0).run(suite)
if not outcome.wasSuccessful():
    failed = [str(test) for test, _ in outcome.failures + outcome.errors]
    raise AssertionError(f"{len(failed)} of {outcome.testsRun} tests failed: {failed[:5]}")
"""


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL(.gz) or parquet file (parquet needs pyarrow or pandas)."""
    path = Path(path)
    if path.suffix == ".parquet":
        # Imported by name: neither package ships type information, and both are optional.
        try:
            parquet: Any = importlib.import_module("pyarrow.parquet")
        except ImportError:
            try:
                pandas: Any = importlib.import_module("pandas")
            except ImportError:
                raise ImportError("reading parquet needs pyarrow (or pandas): pip install pyarrow") from None
            return list(pandas.read_parquet(path).to_dict(orient="records"))
        return list(parquet.read_table(path).to_pylist())
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data)
    return read_jsonl(path)


def parse_libs(value: Any) -> list[str]:
    """``libs`` as a list of top-level module names (the published files store it as a string).

    Example:
        >>> parse_libs("['pandas', 'random']")
        ['pandas', 'random']
    """
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            value = [part.strip(" '\"") for part in value.strip("[]").split(",")]
    return [str(lib).split(".")[0] for lib in value if str(lib).strip()]


def load_bigcodebench(path: str | Path, *, split: Split = "complete") -> list[TaskSpec]:
    """BigCodeBench tasks from `path` (JSONL, JSONL.gz, JSON list or parquet in the official format)."""
    if split not in ("complete", "instruct"):
        raise ValueError(f"split must be 'complete' or 'instruct', not {split!r}")
    tasks = []
    for number, row in enumerate(read_rows(path), start=1):
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            raise ValueError(f"{path}: row {number} lacks the BigCodeBench fields {missing}")
        prompt = task_prompt(row["complete_prompt"]) if split == "complete" else str(row["instruct_prompt"])
        tasks.append(
            TaskSpec(
                id=str(row["task_id"]),
                prompt=prompt,
                category=f"bigcodebench-{split}",
                metadata={
                    "test": row["test"],
                    "entry_point": row["entry_point"],
                    "libs": parse_libs(row.get("libs")),
                    "canonical_solution": str(row["complete_prompt"]) + str(row["canonical_solution"]),
                },
            )
        )
    return tasks


def bigcodebench_program(solution: str, task: TaskSpec) -> str:
    """The hidden test program: solution, the task's unittest code, and a runner that raises on failure."""
    return f"{solution}\n\n{task.metadata['test']}\n{_RUN_UNITTEST}"


def bigcodebench_oracle(task: TaskSpec, kind: AgentKind) -> Model:
    return coding_oracle(str(task.metadata["canonical_solution"]), kind)


def bigcodebench_empty(task: TaskSpec, kind: AgentKind) -> Model:
    return coding_oracle("", kind)


def make_bigcodebench_environment(
    task: TaskSpec,
    *,
    policy: ExecutionPolicy,
    test_executor: ExecutorFactory,
    own_tests_in: OwnTestsIn = "agent_sandbox",
) -> CodingEnvironment:
    libs = [lib for lib in task.metadata.get("libs", ()) if lib not in policy.authorized_imports]
    imports = (*policy.authorized_imports, *libs, *(f"{lib}.*" for lib in libs))
    task_policy = replace(policy, authorized_imports=imports)
    return CodingEnvironment(
        task,
        hidden_test=bigcodebench_program,
        policy=task_policy,
        test_executor=test_executor,
        own_tests_in=own_tests_in,
    )


def bigcodebench_benchmark(
    path: str | Path,
    *,
    split: Split = "complete",
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
    policy: ExecutionPolicy | None = None,
    test_executor: ExecutorFactory = default_test_executor,
    own_tests_in: OwnTestsIn | None = None,
) -> Benchmark:
    """BigCodeBench in the coding environment; each task's ``libs`` are added to the test policy's imports.

    The agent's own tests (``own_tests_in``, see `codeagent.bench.coding`) run by default in its own sandbox,
    or, when you give a `test_executor` of your own (a container with the task libraries), there.

    Example:
        >>> bench = bigcodebench_benchmark("bcb.jsonl", test_executor=my_container_executor)  # doctest: +SKIP
    """
    test_policy = replace(policy or ExecutionPolicy(), timeout_s=test_timeout_s)
    tasks = load_bigcodebench(path, split=split)
    libs = sorted({lib for task in tasks for lib in task.metadata["libs"]})
    return Benchmark(
        name=f"bigcodebench-{split}",
        tasks=tasks,
        make_environment=partial(
            make_bigcodebench_environment,
            policy=test_policy,
            test_executor=test_executor,
            own_tests_in=own_tests_in
            or ("agent_sandbox" if test_executor is default_test_executor else "test_executor"),
        ),
        instructions=CODING_INSTRUCTIONS,
        authorized_imports=(*DEFAULT_AUTHORIZED_IMPORTS, *libs, *(f"{lib}.*" for lib in libs)),
        oracles={"oracle": bigcodebench_oracle, "empty": bigcodebench_empty},
        sandboxed=True,
    )


__all__ = [
    "bigcodebench_benchmark",
    "bigcodebench_empty",
    "bigcodebench_oracle",
    "bigcodebench_program",
    "load_bigcodebench",
    "parse_libs",
    "read_rows",
]
