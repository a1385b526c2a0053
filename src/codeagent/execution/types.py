"""The executor seam: what running one code action returns, and the `Executor` protocol.

Every back-end (in-process language wall, bubblewrap worker, later Docker/Pyodide) implements `Executor`;
the agent loop only ever sees these types. Stdlib only (no pydantic): this module is imported inside the
sandboxed worker, whose start time matters (pydantic in memory models serialises these dataclasses fine).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

#: A host-side tool as the executor sees it: a sync or async callable. Argument validation is the tool's job
#: (see `codeagent.tools`); the executor only forwards positional and keyword arguments.
ToolFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


class ErrorKind(StrEnum):
    """Why a code action failed; the agent loop and the bench report group failures by this."""

    SYNTAX = "syntax"  # the code does not parse
    FORBIDDEN = "forbidden"  # refused by the language wall (dunder access, import not allowed, ...)
    RUNTIME = "runtime"  # an ordinary exception raised by the code
    TOOL = "tool"  # a tool raised, or was called with bad arguments
    OPERATION_LIMIT = "operation_limit"  # operation budget exhausted
    OUTPUT_LIMIT = "output_limit"  # printed more than allowed
    RECURSION_LIMIT = "recursion_limit"
    TIMEOUT = "timeout"  # wall clock: the host killed the worker
    MEMORY = "memory"  # memory limit: MemoryError inside, or killed by the OS
    CRASHED = "crashed"  # the worker died for another reason


@dataclass
class ExecutionError:
    """An error a model can read and act on: what failed, where, and why."""

    kind: ErrorKind
    message: str
    type: str = ""  # exception class name, e.g. "ZeroDivisionError"
    lineno: int | None = None  # 1-based line in the submitted code
    line: str | None = None  # the source text of that line

    def __str__(self) -> str:
        where = f" at line {self.lineno}: {self.line.strip()}" if self.lineno and self.line else ""
        where = where or (f" at line {self.lineno}" if self.lineno else "")
        head = f"{self.type}: " if self.type else ""
        return f"{head}{self.message}{where}"


@dataclass
class ExecutionResult:
    """The outcome of running one code action.

    Example:
        >>> result = ExecutionResult(logs="hi\\n", value=3)
        >>> result.ok
        True
    """

    logs: str = ""  # everything the code printed (already capped by the output budget)
    value: Any = None  # the final answer if `is_final_answer`, else the value of the last expression
    error: ExecutionError | None = None
    is_final_answer: bool = False
    duration_s: float = 0.0
    #: True when the worker had to be replaced (timeout, memory, crash) *before or during* this run:
    #: variables, functions and imports from earlier steps are gone, and the model must be told so.
    state_reset: bool = False
    operations: int = 0  # operations counted by the budget guard
    tool_calls: list[str] = field(default_factory=list)  # names of tools called, in order

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Executor(Protocol):
    """Runs code actions with state that persists between calls of one run.

    Example:
        >>> async def demo(executor: Executor) -> None:
        ...     await executor.send_variables({"x": 2})
        ...     result = await executor.run("y = x * 21\\nprint(y)")
        ...     assert result.logs == "42\\n"
    """

    async def run(self, code: str) -> ExecutionResult:
        """Run one code action; never raises for problems of the code itself (they go in `error`)."""
        ...

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Make these values available as global variables to the next actions."""
        ...

    async def send_tools(self, tools: Mapping[str, ToolFunction]) -> None:
        """Make these host-side callables available as functions to the next actions."""
        ...

    async def close(self) -> None:
        """Release the worker and anything else held; the executor cannot be used afterwards."""
        ...


def start_in_background(executor: Executor) -> asyncio.Future[None] | None:
    """Call the executor's optional ``start()`` (a sandbox boots its worker) without waiting for it.

    Lets the start overlap other work (the model writing an action). Await the future before the first
    `run` (a failed start raises there), or `cancel_start` it if the executor is never used. None for
    executors without a ``start``.

    Example:
        >>> async def demo(executor: Executor) -> None:
        ...     starting = start_in_background(executor)
        ...     ...  # meanwhile, ask the model for code
        ...     if starting is not None:
        ...         await starting
        ...     await executor.run("print(1)")
    """
    start = getattr(executor, "start", None)
    return asyncio.ensure_future(start()) if callable(start) else None


async def cancel_start(starting: asyncio.Future[None] | None) -> None:
    """Cancel a background start that is no longer needed, and retrieve its outcome, whatever it was."""
    if starting is not None:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)


class ToolCallError(Exception):
    """Raised inside a code action when a host-side tool fails or rejects its arguments.

    Code may catch it like any exception; left uncaught, the action ends with `ErrorKind.TOOL`.
    """
