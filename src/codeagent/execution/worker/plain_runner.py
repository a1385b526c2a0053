"""Plain CPython inside the worker, for trusted programs (a benchmark's hidden tests): the OS wall is then
the only wall, so the sandboxed executor only uses this with bubblewrap and seccomp in force.

Same interface as the language wall's `CodeRunner`: state persists between runs, `final_answer` ends a run,
printed output is captured and capped, errors come back with the failing line.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionError, ExecutionResult, ToolCallError

_FILENAME = "<action>"


class _FinalAnswer(BaseException):
    def __init__(self, value: Any) -> None:
        self.value = value


def _final_answer(value: Any) -> None:
    raise _FinalAnswer(value)


class _OutputLimit(BaseException):
    pass


class _CappedWriter(io.TextIOBase):
    """stdout/stderr of the program: keeps at most `limit` characters and stops the program past that."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.limit - self.size
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        if len(text) > room:
            raise _OutputLimit()
        return len(text)

    def value(self) -> str:
        return "".join(self.parts)


class PlainRunner:
    """Runs code with full Python semantics (no AST rewriting). Only ever inside the OS wall.

    Example:
        >>> runner = PlainRunner(ExecutionPolicy(language_wall=False))  # doctest: +SKIP
        >>> runner.run("import unittest\\nprint(1)").logs  # doctest: +SKIP
        '1\\n'
    """

    def __init__(self, policy: ExecutionPolicy | None = None, *, owns_process: bool = False) -> None:
        self.policy = policy or ExecutionPolicy(language_wall=False)
        self.owns_process = owns_process
        self.module: types.ModuleType
        self.globals: dict[str, Any]
        self.reset()
        if owns_process:
            sys.setrecursionlimit(self.policy.max_recursion_depth + 50)

    def reset(self) -> None:
        """Forget every variable of earlier runs (a fresh namespace, a fresh ``__main__`` module)."""
        self.module = types.ModuleType("__main__")
        self.globals = self.module.__dict__
        self.globals["__builtins__"] = builtins
        self.globals["final_answer"] = _final_answer

    def set_tools(self, tools: Mapping[str, Callable[..., Any]]) -> None:
        self.globals.update(tools)

    def set_variables(self, variables: Mapping[str, Any]) -> None:
        self.globals.update(variables)

    def cancel(self) -> None:
        """Nothing to do: the host's wall-clock kill is what stops plain code."""

    def run(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        start = time.perf_counter()
        out = _CappedWriter(self.policy.max_output_chars)
        error: ExecutionError | None = None
        value: Any = None
        final = False
        try:
            compiled = compile(code, _FILENAME, "exec")
        except SyntaxError as exc:
            error = ExecutionError(ErrorKind.SYNTAX, str(exc.msg), "SyntaxError", exc.lineno, exc.text)
            return ExecutionResult(error=error, duration_s=time.perf_counter() - start)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), self._as_main():
                exec(compiled, self.globals)
        except _FinalAnswer as answer:
            value, final = answer.value, True
        except _OutputLimit:
            error = ExecutionError(
                ErrorKind.OUTPUT_LIMIT, f"printed more than {self.policy.max_output_chars} characters"
            )
        except BaseException as exc:  # the program's own failure, reported to the caller
            error = self._error(exc, code)
        return ExecutionResult(
            logs=out.value(),
            value=value,
            error=error,
            is_final_answer=final,
            duration_s=time.perf_counter() - start,
        )

    @contextlib.contextmanager
    def _as_main(self) -> Iterator[None]:
        """While the code runs, its module is the real ``__main__`` (test programs patch their own names:
        ``mock.patch("__main__.f")``); restored afterwards, so that runs may nest (a fresh namespace run
        from a tool call, see `codeagent.execution.caller`)."""
        if not self.owns_process:
            yield
            return
        previous = sys.modules.get("__main__")
        sys.modules["__main__"] = self.module
        try:
            yield
        finally:
            if previous is not None:
                sys.modules["__main__"] = previous

    def _error(self, exc: BaseException, code: str) -> ExecutionError:
        lineno = None
        for frame, line in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == _FILENAME:
                lineno = line
        lines = code.splitlines()
        text = lines[lineno - 1] if lineno and 0 < lineno <= len(lines) else None
        if isinstance(exc, MemoryError):
            kind = ErrorKind.MEMORY
        elif isinstance(exc, RecursionError):
            kind = ErrorKind.RECURSION_LIMIT
        elif isinstance(exc, ToolCallError):
            kind = ErrorKind.TOOL
        else:
            kind = ErrorKind.RUNTIME
        return ExecutionError(kind, str(exc), type(exc).__name__, lineno, text)
