"""The evaluation harness: environments with hidden scorers, datasets, a resumable parallel runner, reports.

Example:
    >>> import asyncio
    >>> from codeagent.bench import AgentSpec, RunStore, humaneval_benchmark, run_benchmark, write_report
    >>> bench = humaneval_benchmark().select(limit=5)  # doctest: +SKIP
    >>> store = RunStore("bench.sqlite")  # doctest: +SKIP
    >>> asyncio.run(run_benchmark(bench, AgentSpec(kind="code"), store, run_name="he-5"))  # doctest: +SKIP
    >>> print(write_report(store, "he-5")[0])  # doctest: +SKIP

Modules: `environment` (TaskSpec, Score, Environment, Benchmark), `coding` (the coding environment),
`datasets` (HumanEval, BigCodeBench), `bfcl`, `tau2` (τ²-airline, over MCP), `gaia`, `custom`, `runner`,
`store` (SQLite), `ray_backend`, `report`, `plots` (matplotlib), `progress` (rich). The Ray backend, the
plots and τ² (the mcp SDK) import their optional dependencies only when used.
"""

from codeagent.bench.bfcl import bfcl_benchmark, check_calls, load_bfcl
from codeagent.bench.coding import CodingEnvironment, coding_oracle
from codeagent.bench.custom import custom_benchmark, load_custom
from codeagent.bench.datasets import (
    bigcodebench_benchmark,
    humaneval_benchmark,
    load_bigcodebench,
    load_humaneval,
)
from codeagent.bench.environment import (
    AgentKind,
    AnswerEnvironment,
    Benchmark,
    Environment,
    Score,
    TaskSpec,
    answer_oracle,
    code_action,
    tool_calls_message,
)
from codeagent.bench.gaia import gaia_benchmark, load_gaia, question_scorer
from codeagent.bench.records import FAILURE_KINDS, TaskRecord, classify_failure
from codeagent.bench.report import export_chat_jsonl, summarize, wilson_interval, write_report
from codeagent.bench.runner import AgentSpec, OracleModels, RunOutcome, run_benchmark, run_task
from codeagent.bench.store import RunStore

__all__ = [
    "FAILURE_KINDS",
    "AgentKind",
    "AgentSpec",
    "AnswerEnvironment",
    "Benchmark",
    "CodingEnvironment",
    "Environment",
    "OracleModels",
    "RunOutcome",
    "RunStore",
    "Score",
    "TaskRecord",
    "TaskSpec",
    "answer_oracle",
    "bfcl_benchmark",
    "bigcodebench_benchmark",
    "check_calls",
    "classify_failure",
    "code_action",
    "coding_oracle",
    "custom_benchmark",
    "export_chat_jsonl",
    "gaia_benchmark",
    "humaneval_benchmark",
    "load_bfcl",
    "load_bigcodebench",
    "load_custom",
    "load_gaia",
    "load_humaneval",
    "question_scorer",
    "run_benchmark",
    "run_task",
    "summarize",
    "tool_calls_message",
    "wilson_interval",
    "write_report",
]
