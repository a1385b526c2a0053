"""`CodeRunner`: runs code actions through the language wall, synchronously, keeping state between calls.

Used in-process by `InProcessExecutor` and inside the sandboxed worker (with `owns_process=True`).
"""

from __future__ import annotations

import keyword
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from inspect import CO_COROUTINE
from types import TracebackType
from typing import Any

from codeagent.execution.language.budget import Budget, Raiser
from codeagent.execution.language.builtins import OutputBuffer, make_builtins, make_stdout
from codeagent.execution.language.denylist import DenyList
from codeagent.execution.language.errors import (
    CompileForbidden,
    FinalAnswerSignal,
    ImportForbiddenError,
    WallSignal,
)
from codeagent.execution.language.guards import WallContext
from codeagent.execution.language.imports import ModuleImporter
from codeagent.execution.language.rewrite import compile_action
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionError, ExecutionResult, ToolCallError

_RECURSION_MARGIN = 60  # frames for the runner and the guards below/between the code's own frames
_MAX_TRACEBACK_FRAMES = 8
_MAX_MESSAGE_CHARS = 10_000


class CodeRunner:
    """Runs code actions through the language wall; variables, functions and imports persist between runs.

    Args:
        policy: limits and permissions (imports, deny-list lifts, operation/output budgets, recursion).
        owns_process: True inside a dedicated worker process: the runner then sets the interpreter's
            recursion limit to `policy.max_recursion_depth` (plus a margin) and sends sys.stdout/sys.stderr
            to the captured output while code runs. Leave False in a shared process (the host's recursion
            limit and streams are left alone; CPython's own RecursionError still applies).

    Example:
        >>> runner = CodeRunner(ExecutionPolicy())
        >>> runner.set_tools({"double": lambda x: 2 * x})
        >>> runner.run("y = double(21)\\nprint(y)").logs
        '42\\n'
        >>> runner.run("final_answer(y + 1)").value
        43
        >>> runner.run("().__class__.__base__.__subclasses__()").error.kind
        <ErrorKind.FORBIDDEN: 'forbidden'>
    """

    def __init__(self, policy: ExecutionPolicy | None = None, *, owns_process: bool = False) -> None:
        self.policy = policy = policy or ExecutionPolicy()
        self.owns_process = owns_process
        self.globals: dict[str, Any] = {}
        self._denylist = DenyList(policy.allowed_dangerous_functions)
        ctx = self._ctx = WallContext(self.globals, self._denylist)
        self._output = OutputBuffer(ctx, policy.max_output_chars)
        ctx.stdout = make_stdout(self._output.write)
        self._budget = Budget(ctx.record)
        ctx.checkpoint = self._budget.check_time
        self._importer = ModuleImporter(ctx, tuple(policy.authorized_imports), self._denylist)
        self._builtins = make_builtins(ctx, self._output.write)
        self._reserved = frozenset(self._builtins) - {"open", "input", "help"}
        self._tools: dict[str, Callable[..., Any]] = {}
        self._final_tool: Callable[..., Any] | None = None
        self._sources: dict[str, list[str]] = {}
        self._count = 0
        self._last: Any = None
        self._tool_calls: list[str] = []
        self._install_runtime_guards()
        ctx.on_signal = self._poison
        self.globals.update({"__builtins__": self._builtins, "__name__": "__main__"})

    # --- public API ---------------------------------------------------------------------------------
    def set_tools(self, tools: Mapping[str, Callable[..., Any]]) -> None:
        """Install synchronous callables (tool stubs) as functions the code can call, under their names.

        A tool's exceptions reach the code as `ToolCallError` (message only, no host objects); left uncaught
        they end the action with `ErrorKind.TOOL`. A tool named `final_answer` is called by the
        `final_answer(...)` builtin, and its return value becomes the final answer.
        """
        for name, fn in tools.items():
            self._check_new_name(name, what="tool")
            if name == "final_answer":
                self._final_tool = fn
                continue
            if name in self._reserved:
                raise ValueError(f"tool name {name!r} would shadow a builtin the sandbox needs")
            self._tools[name] = fn
            self._builtins[name] = self._tool_stub(name, fn)

    def set_variables(self, variables: Mapping[str, Any]) -> None:
        """Install values as global variables of the code."""
        for name in variables:
            self._check_new_name(name, what="variable")
            if name in self._tools or name == "final_answer":
                raise ValueError(f"variable name {name!r} is a tool name")
        self.globals.update(variables)
        self._importer.harden_loaded()  # the values may be the first numpy/pandas objects of this process

    def reset(self) -> None:
        """Forget every variable of earlier runs (a fresh namespace); builtins, tools and imports stay.

        Cheaper than a new runner where that matters: in a forked worker, building one copies ~170 pages.
        """
        self.globals.clear()  # the same dict: the wall's context holds it
        self.globals.update({"__builtins__": self._builtins, "__name__": "__main__"})

    def cancel(self) -> None:
        """Ask the running action to stop at its next budget check (safe to call from another thread)."""
        self._budget.cancel()

    def run(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run one action. Never raises for errors of the code; they are returned in `error`.

        `timeout_s` (optional) is a deadline checked at the budget's checkpoints: it stops Python-level loops
        and calls, not a single long C call (the sandboxed executor kills the worker for those).
        """
        start = time.perf_counter()
        self._count += 1
        filename = f"<action-{self._count}>"
        self._sources[filename] = code.splitlines()
        self._ctx.pending = None
        self._last = None
        self._tool_calls = []
        self._output.reset(self.policy.max_output_chars)
        deadline = time.monotonic() + timeout_s if timeout_s else None
        self._builtins["__ca_ops__"] = self._budget.start(self.policy.max_operations, deadline)
        self._importer.harden_loaded()
        protected = frozenset(self._tools) | {"final_answer"}
        try:
            code_obj = compile_action(
                code, filename, protected=protected, sensitive=self._denylist.sensitive_names
            )
        except SyntaxError as exc:
            return self._result(start, self._syntax_error(exc))
        except CompileForbidden as exc:
            line = self._line(filename, exc.lineno)
            return self._result(
                start, ExecutionError(ErrorKind.FORBIDDEN, exc.message, "ForbiddenError", exc.lineno, line)
            )
        except (RecursionError, MemoryError) as exc:
            kind = ErrorKind.MEMORY if isinstance(exc, MemoryError) else ErrorKind.SYNTAX
            return self._result(start, ExecutionError(kind, "the code is too large or too deeply nested"))
        failure: BaseException | None = None
        with self._process_context():
            try:
                if code_obj.co_flags & CO_COROUTINE:
                    self._drive(eval(code_obj, self.globals))
                else:
                    exec(code_obj, self.globals)
            except BaseException as exc:
                failure = exc
        try:
            return self._finish(start, failure, filename)
        finally:
            failure = None
            # Code the host calls later (a __repr__ of the value, ...) runs on a fresh, deadline-free budget.
            self._builtins["__ca_ops__"] = self._budget.start(self.policy.max_operations)

    # --- internals ----------------------------------------------------------------------------------
    def _install_runtime_guards(self) -> None:
        ctx = self._ctx
        importer = self._importer
        runner = self

        def final_answer(answer: Any) -> Any:
            tool = runner._final_tool
            if tool is not None:
                answer = runner._tool_stub("final_answer", tool)(answer)
            signal = FinalAnswerSignal(answer)
            ctx.record(signal)
            raise signal

        def last(value: Any) -> None:
            runner._last = value

        def import_(name: str, bind_top: bool) -> Any:
            return importer.import_module(name, bind_top)

        def import_from(module: str, name: str) -> Any:
            return importer.import_from(module, name)

        def import_star(module: str) -> None:
            names: dict[str, Any] = {}
            importer.import_star(module, names)
            for name, value in names.items():
                if name not in runner._tools and name != "final_answer":
                    runner.globals[name] = value

        self._builtins.update(
            {
                "final_answer": final_answer,
                "__ca_last__": last,
                "__ca_import__": import_,
                "__ca_import_from__": import_from,
                "__ca_import_star__": import_star,
            }
        )

    def _poison(self, signal: WallSignal) -> None:
        """Once a signal is pending, every function entry and loop step raises it again: no code of the
        action runs any more, not even in __exit__ methods or generators finalized during unwinding."""
        self._builtins["__ca_ops__"] = Raiser(lambda: signal)

    def _tool_stub(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        calls = self._tool_calls_ref
        harden = self._importer.harden_loaded

        def tool(*args: Any, **kwargs: Any) -> Any:
            calls().append(name)
            failure = ""
            try:
                result = fn(*args, **kwargs)
                harden()  # a result may be the first numpy/pandas object of this process
                return result
            except ToolCallError as exc:
                failure = str(exc) or f"tool '{name}' failed"
            except WallSignal:
                raise
            except Exception as exc:
                failure = f"tool '{name}' failed: {type(exc).__name__}: {exc}"
            raise ToolCallError(failure)

        tool.__name__ = tool.__qualname__ = name
        tool.__doc__ = getattr(fn, "__doc__", None)
        return tool

    def _tool_calls_ref(self) -> list[str]:
        return self._tool_calls

    @staticmethod
    def _check_new_name(name: Any, *, what: str) -> None:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{what} name {name!r} is not a valid Python identifier")
        if name.startswith("_"):
            raise ValueError(f"{what} name {name!r} may not start with '_'")

    @contextmanager
    def _process_context(self) -> Iterator[None]:
        if not self.owns_process:
            yield
            return
        depth = 0
        frame = sys._getframe()
        while frame is not None:
            depth += 1
            frame = frame.f_back  # type: ignore[assignment]
        old_limit = sys.getrecursionlimit()
        old_out, old_err = sys.stdout, sys.stderr
        sys.setrecursionlimit(depth + self.policy.max_recursion_depth + _RECURSION_MARGIN)
        sys.stdout = sys.stderr = self._ctx.stdout
        try:
            yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err
            sys.setrecursionlimit(old_limit)

    def _drive(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a top-level-await action: user coroutines only (no event loop in the sandbox)."""
        builtins = self._builtins
        try:
            while True:
                yielded = coro.send(None)
                next(builtins["__ca_ops__"])
                if yielded is not None:
                    raise RuntimeError(
                        "awaiting event-loop objects (asyncio futures, tasks) is not supported"
                    )
        except StopIteration:
            return
        finally:
            try:
                coro.close()
            except BaseException:
                pass

    def _finish(self, start: float, failure: BaseException | None, filename: str) -> ExecutionResult:
        signal = self._ctx.pending or (failure if isinstance(failure, WallSignal) else None)
        if isinstance(signal, FinalAnswerSignal):
            return self._result(start, None, value=signal.value, final=True)
        if signal is not None:
            tb = signal.__traceback__ or (failure.__traceback__ if failure is not None else None)
            lineno, line, _ = self._location(tb, filename)
            error = ExecutionError(signal.kind, str(signal), signal.type_name, lineno, line)
            return self._result(start, error)
        if failure is None:
            return self._result(start, None, value=self._last)
        lineno, line, trace = self._location(failure.__traceback__, filename)
        message = _exception_text(failure)
        type_name = type(failure).__name__
        if isinstance(failure, ToolCallError):
            kind = ErrorKind.TOOL
        elif isinstance(failure, ImportForbiddenError):
            kind, type_name = ErrorKind.FORBIDDEN, "ForbiddenError"
        elif isinstance(failure, RecursionError):
            kind = ErrorKind.RECURSION_LIMIT
        elif isinstance(failure, MemoryError):
            kind = ErrorKind.MEMORY
            message = message if str(failure) else "out of memory"
        else:
            kind = ErrorKind.RUNTIME
        if len(trace) > 1:
            message += "\nTraceback (most recent call last):\n" + "\n".join(trace)
        return self._result(start, ExecutionError(kind, message, type_name, lineno, line))

    def _location(self, tb: TracebackType | None, filename: str) -> tuple[int | None, str | None, list[str]]:
        """Innermost line of the current action (else of any action) and a compact trace of action frames."""
        frames: list[tuple[str, int, str]] = []
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith("<action-"):
                frames.append((code.co_filename, tb.tb_lineno, code.co_name))
            tb = tb.tb_next
        trace = []
        for fname, lineno, func in frames[-_MAX_TRACEBACK_FRAMES:]:
            where = "" if fname == filename else f" (defined in an earlier step, {fname[1:-1]})"
            text = (self._line(fname, lineno) or "").strip()
            trace.append(f"  line {lineno}, in {func}{where}: {text}")
        current = [f for f in frames if f[0] == filename]
        pick = current[-1] if current else (frames[-1] if frames else None)
        if pick is None:
            return None, None, trace
        return pick[1], self._line(pick[0], pick[1]), trace

    def _line(self, filename: str, lineno: int | None) -> str | None:
        lines = self._sources.get(filename)
        if lines is None or lineno is None or not 1 <= lineno <= len(lines):
            return None
        return lines[lineno - 1]

    def _syntax_error(self, exc: SyntaxError) -> ExecutionError:
        message = exc.msg or "invalid syntax"
        if exc.offset:
            message += f" (column {exc.offset})"
        line = exc.text.rstrip("\n") if exc.text else None
        return ExecutionError(ErrorKind.SYNTAX, message, type(exc).__name__, exc.lineno, line)

    def _result(
        self, start: float, error: ExecutionError | None, *, value: Any = None, final: bool = False
    ) -> ExecutionResult:
        return ExecutionResult(
            logs=self._output.text(),
            value=value,
            error=error,
            is_final_answer=final,
            duration_s=time.perf_counter() - start,
            operations=self._budget.used,
            tool_calls=list(self._tool_calls),
        )


def _exception_text(exc: BaseException) -> str:
    """`str(exc)` (or its repr) for an exception the code raised, whose `__str__` may be the code's own: it
    may raise, call final_answer, loop (it still runs on the action's budget and deadline here) or be huge."""
    try:
        text = str(exc) or repr(exc)
    except BaseException as err:  # anything the code's __str__ raises, signals included
        text = f"{type(exc).__name__} (its message could not be computed: {type(err).__name__})"
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "...<truncated>"
    return text
