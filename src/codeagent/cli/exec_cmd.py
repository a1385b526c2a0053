"""``codeagent exec FILE``: run a file exactly as an agent's code action would run, and show the outcome.

Same executor and limits as an agent (the library's default executor, sandboxed), with command-line
overrides for the common limits. The code's printed output goes to stdout as-is; the outcome (final answer,
value of the last expression, or the error) follows on stderr, or everything as one JSON object with
``--json``.

Exit status: 0 the action succeeded, 1 it failed (error of the code, timeout, memory, ...), 2 usage error,
3 the sandbox could not be had (``--require-sandbox``) or the worker could not start.

Example::

    $ codeagent exec script.py --imports numpy,pandas --timeout 10 --memory-mb 2048
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.execution.types import ExecutionResult

EXIT_OK = 0
EXIT_ACTION_FAILED = 1
EXIT_SANDBOX = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``exec`` subcommand."""
    parser = subparsers.add_parser(
        "exec",
        help="run a Python file as a sandboxed code action",
        description="Run FILE as an agent's code action would run (default executor, same limits) and "
        "print its output and result. Exit status 1 when the action fails.",
    )
    parser.add_argument("file", help="Python file to run ('-' reads standard input)")
    parser.add_argument(
        "--imports",
        default="",
        help="extra modules the code may import, comma-separated ('pkg.*' includes submodules, '*' all)",
    )
    parser.add_argument("--timeout", type=float, default=None, metavar="S", help="wall-clock limit, seconds")
    parser.add_argument("--memory-mb", type=int, default=None, metavar="N", help="memory limit, MiB")
    parser.add_argument(
        "--max-operations", type=int, default=None, metavar="N", help="operation budget of the action"
    )
    parser.add_argument(
        "--require-sandbox",
        action="store_true",
        help="fail (exit 3) instead of falling back to an unsandboxed subprocess",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object on stdout")
    parser.set_defaults(handler=run_exec)


def build_policy(args: argparse.Namespace) -> ExecutionPolicy:
    """The default policy with the command line's overrides."""
    overrides: dict[str, Any] = {}
    extra = tuple(name.strip() for name in args.imports.split(",") if name.strip())
    if extra:
        overrides["authorized_imports"] = DEFAULT_AUTHORIZED_IMPORTS + extra
    if args.timeout is not None:
        overrides["timeout_s"] = args.timeout
    if args.memory_mb is not None:
        overrides["memory_mb"] = args.memory_mb
    if args.max_operations is not None:
        overrides["max_operations"] = args.max_operations
    return ExecutionPolicy(**overrides)


async def execute(code: str, policy: ExecutionPolicy, *, require_sandbox: bool = False) -> ExecutionResult:
    """Run ``code`` once in a fresh default executor."""
    from codeagent.execution.sandboxed import SandboxedExecutor
    from codeagent.execution.worker.pool import configure_pools

    configure_pools(0)  # one action, then exit: no point keeping a spare worker warm
    # One worker only: a sandbox of its own starts sooner than a fork server and then its first child.
    executor = SandboxedExecutor(policy, require_sandbox=require_sandbox, fork_server=False)
    try:
        return await executor.run(code)
    finally:
        await executor.close()


def run_exec(args: argparse.Namespace) -> int:
    """Handler of ``codeagent exec``."""
    try:
        code = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"codeagent exec: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        policy = build_policy(args)
    except ValueError as exc:
        print(f"codeagent exec: {exc}", file=sys.stderr)
        return 2
    from codeagent.execution.sandboxed import SandboxUnavailable, WorkerStartError

    try:
        result = asyncio.run(execute(code, policy, require_sandbox=args.require_sandbox))
    except (SandboxUnavailable, WorkerStartError) as exc:
        print(f"codeagent exec: {exc}", file=sys.stderr)
        return EXIT_SANDBOX
    if args.json:
        _print_json(result)
    else:
        _print_human(result)
    return EXIT_OK if result.ok else EXIT_ACTION_FAILED


def _print_json(result: ExecutionResult) -> None:
    from codeagent.execution.worker import codec

    error = result.error
    out = {
        "ok": result.ok,
        "logs": result.logs,
        "value": codec.encode(result.value),
        "is_final_answer": result.is_final_answer,
        "error": None
        if error is None
        else {"kind": error.kind.value, "type": error.type, "message": error.message, "lineno": error.lineno},
        "duration_s": result.duration_s,
        "tool_calls": result.tool_calls,
    }
    print(json.dumps(out, ensure_ascii=False))


def _print_human(result: ExecutionResult) -> None:
    from rich.console import Console
    from rich.markup import escape

    sys.stdout.write(result.logs)
    if result.logs and not result.logs.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if result.error is not None:
        error = result.error
        console.print(f"[bold red]error[/] [red]({error.kind.value})[/] {escape(str(error))}")
    elif result.is_final_answer:
        console.print(f"[bold green]final answer:[/] {escape(repr(result.value))}")
    elif result.value is not None:
        console.print(f"[bold]result:[/] {escape(repr(result.value))}")
    console.print(f"[dim]{result.duration_s * 1000:.1f} ms[/]")
