"""The sandbox whose code called the running tool: a tool may run more code there, in a fresh namespace.

A tool runs on the host; when sandboxed code calls it, the worker that made the call waits for the answer.
`caller_sandbox()` gives the tool that worker for the length of the call, so that it can run a program
there in a *fresh namespace* (none of the caller's variables, no tools, its own output), under the
caller's policy and a timeout of its own — without starting another sandbox. The coding environment's
``run_tests`` uses it to run an agent's own tests in the agent's own sandbox.

What a fresh namespace shares with the caller: the process (imported modules, memory limit, the OS wall).
A run that overruns its timeout inside a long C call cannot be stopped softly: the worker is then killed,
the calling action ends with a timeout, and its state is lost (reported with ``state_reset`` as for any
timeout).

Example:
    >>> async def run_tests(test_code: str) -> str:  # a tool
    ...     sandbox = caller_sandbox()
    ...     if sandbox is None:
    ...         return "not called from sandboxed code"
    ...     result = await sandbox.run_fresh(test_code, timeout_s=5)
    ...     return result.logs if result.ok else str(result.error)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from codeagent.execution.types import ExecutionResult

__all__ = ["CallerSandbox", "SandboxLost", "called_from", "caller_sandbox"]


class CallerSandbox(Protocol):
    """The sandbox of the code that called the running tool (see the module docstring)."""

    async def run_fresh(self, code: str, *, timeout_s: float) -> ExecutionResult:
        """Run `code` in a fresh namespace of the caller's sandbox; its problems come back in ``error``.

        Raises `SandboxLost` when the sandbox had to be stopped (the run overran its timeout in a way the
        sandbox could not stop by itself, or the worker died); the calling action then ends with that
        error, and `RuntimeError` when used after the tool call ended or by two runs at once.
        """
        ...


class SandboxLost(RuntimeError):
    """The caller's sandbox was stopped during `CallerSandbox.run_fresh`; the calling action ends with it."""


_CALLER: ContextVar[CallerSandbox | None] = ContextVar("codeagent_caller_sandbox", default=None)


def caller_sandbox() -> CallerSandbox | None:
    """The sandbox whose code is calling the running tool, or None (called natively, or by an executor
    without this ability)."""
    return _CALLER.get()


@contextmanager
def called_from(sandbox: CallerSandbox) -> Iterator[None]:
    """For executors: make `sandbox` the caller of the tool call run inside this block."""
    token = _CALLER.set(sandbox)
    try:
        yield
    finally:
        _CALLER.reset(token)
