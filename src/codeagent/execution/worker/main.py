"""The sandboxed worker: a loop that runs code actions for one executor, speaking the bridge protocol.

Started by the host (see `codeagent.execution.worker.process`) as::

    python -I -S -B -c "<bootstrap>" <sys.path entries...>

inside bubblewrap when available. The protocol runs over the *original* stdin/stdout, which the worker moves
to private fds at once; fds 0 and 1 then point at /dev/null, so nothing the code writes (even from C) can
corrupt the framing. fd 2 stays the host's stderr pipe until ``init`` (start-up errors reach the host's
diagnostics), then also points at /dev/null.

Life of a worker: spawn -> imports -> ``boot`` (load seccomp) -> ``ready`` (it waits in the warm pool
here) -> ``init`` (policy: rlimits, runner, tools, variables) -> ``run`` ... -> killed or ``exit``.

Stdlib only (plus codeagent.execution.{types,policy,language} and this package).
"""

from __future__ import annotations

import _thread
import binascii
import contextlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionResult, ToolCallError
from codeagent.execution.worker import codec, limits
from codeagent.execution.worker.protocol import (
    Message,
    MessageTooLarge,
    ProtocolError,
    encode_message,
    read_message,
    write_all,
)

#: Exit status when the worker itself runs out of memory outside an action (the host reports MEMORY).
EXIT_MEMORY = 86
#: Exit status for a protocol failure (the host reports CRASHED with this reason).
EXIT_PROTOCOL = 87
#: Largest host -> worker message before ``init`` tells us the policy (the boot message is tiny).
_BOOT_MAX_BYTES = 1 << 20
#: Error messages and logs are cut to these sizes as a backstop (the language wall has its own budgets).
_MAX_ERROR_CHARS = 10_000


def policy_key(policy: Mapping[str, Any]) -> str:
    """A policy (as its dict) as a canonical string, to match runner templates with ``init``."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def _load_runner_class(policy: ExecutionPolicy) -> Any:
    if not policy.language_wall:
        from codeagent.execution.worker.plain_runner import PlainRunner

        return PlainRunner
    from codeagent.execution.language.runner import CodeRunner

    return CodeRunner


class Worker:
    """Serves the protocol on two fds until the host says ``exit`` or closes the pipe."""

    def __init__(self, rfd: int, wfd: int, shared_sandbox: bool = False, *, rehearsal: bool = False) -> None:
        self.rfd = rfd
        self.wfd = wfd
        #: Forked by the fork server: the sandbox's namespaces are shared with sibling workers.
        self.shared_sandbox = shared_sandbox
        #: Played inside the fork server by `rehearse`: nothing process-wide (rlimits, fds, recursion limit).
        self.rehearsal = rehearsal
        #: Policies the fork server parsed before forking us, by `policy_key`, each with runners built for
        #: it (never used by anyone) where building them is worth it (see `make_runner_template`).
        self.runner_templates: dict[str, RunnerTemplate] = {}
        self.runner: Any = None
        #: The runner of fresh-namespace runs: the template's spare until first needed (see `_run_fresh`).
        self._fresh_runner: Any = None
        self.policy: ExecutionPolicy | None = None
        self.max_in = _BOOT_MAX_BYTES
        self.max_message = _BOOT_MAX_BYTES
        self.test_hooks = False
        self._call_id = 0
        self._call_lock = _thread.allocate_lock()

    # --- plumbing ----------------------------------------------------------------------------

    def send(self, message: Message, limit: int | None = None, what: str = "message") -> None:
        frame = encode_message(message, limit if limit is not None else self.max_in, what)
        write_all(self.wfd, frame)

    def recv(self) -> Message:
        return read_message(self.rfd, self.max_in)

    def serve(self) -> int:
        handlers: dict[str, Callable[[Message], Message | None]] = {
            "boot": self.on_boot,
            "init": self.on_init,
            "tools": self.on_tools,
            "vars": self.on_vars,
            "run": self.on_run,
            "probe": self.on_probe,
            "ping": lambda _m: {"t": "pong"},
        }
        while True:
            try:
                message = self.recv()
            except MessageTooLarge as exc:
                self.send({"t": "error", "message": str(exc)})
                continue
            except ProtocolError:
                return 0  # host went away: nothing left to do
            kind = message["t"]
            if kind == "exit":
                return 0
            handler = handlers.get(kind)
            if handler is None:
                self.send({"t": "error", "message": f"unknown message type {kind!r}"})
                continue
            try:
                reply = handler(message)
            except MemoryError:
                reply = {"t": "error", "message": "the worker ran out of memory", "kind": "memory"}
            except Exception as exc:
                reply = {"t": "error", "message": f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]}
            if reply is not None:
                self.send(reply)

    # --- handlers ----------------------------------------------------------------------------

    def on_boot(self, message: Message) -> Message:
        parent = message.get("parent")
        if isinstance(parent, int):
            limits.die_with_parent(parent)
        program = message.get("seccomp")
        if program:
            limits.load_seccomp(binascii.a2b_base64(program))
        self.test_hooks = bool(message.get("test_hooks"))
        return self.ready_message()

    def ready_message(self, seccomp_mode: int | None = None) -> Message:
        return {
            "t": "ready",
            "pid": os.getpid(),
            "uid": os.getuid(),
            "seccomp": limits.seccomp_mode() if seccomp_mode is None else seccomp_mode,
            "forked": self.shared_sandbox,
        }

    def on_init(self, message: Message) -> Message:
        if self.runner is not None:
            raise RuntimeError("worker already initialised")
        template = self.runner_templates.pop(policy_key(message["policy"]), None)
        policy = ExecutionPolicy.from_dict(message["policy"]) if template is None else template.policy
        # Tool results and variables may be up to max_message_bytes; allow room for the envelope.
        self.max_message = policy.max_message_bytes
        self.max_in = policy.max_message_bytes + (1 << 16)
        applied: dict[str, int] = {}
        if not self.rehearsal:
            applied = limits.apply_rlimits(policy.to_dict(), self.shared_sandbox)
            # From here on untrusted code runs. Nobody drains fd 2 (the host reads it only after a failed
            # start), so stray stderr writes (warnings, C libraries) would fill the pipe and hang the worker.
            _redirect_to_devnull(2)
        self.runner = template.runner if template is not None else None
        self._fresh_runner = template.spare if template is not None else None
        prepared = self.runner is not None
        if prepared:
            self.runner.owns_process = True  # built unused in the fork server; this process is its own
        else:
            cls = _load_runner_class(policy)
            try:
                # A dedicated process may set the recursion limit and other process-wide state.
                self.runner = cls(policy, owns_process=not self.rehearsal)
            except TypeError:
                self.runner = cls(policy)
        # Drop our reference only: freeing the other templates would write to (and so copy) their pages.
        self.runner_templates = {}
        self.policy = policy
        self._install_tools(message.get("tools") or [])
        self._install_variables(message.get("variables") or {})
        return {"t": "ok", "rlimits": applied, "prepared": prepared}

    def on_tools(self, message: Message) -> Message:
        self._require_init()
        self._install_tools(message["names"])
        return {"t": "ok"}

    def on_vars(self, message: Message) -> Message:
        self._require_init()
        self._install_variables(message["values"])
        return {"t": "ok"}

    def on_run(self, message: Message) -> None:
        self._require_init()
        code = message["code"]
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        try:
            result: ExecutionResult = self.runner.run(code)
        except _Desync:
            raise
        except MemoryError:
            result = _error_result(ErrorKind.MEMORY, "MemoryError", "the action ran out of memory")
        except BaseException as exc:
            # The runner returns errors of the code itself; what escapes it (SystemExit, a runner bug)
            # must still end the step cleanly instead of killing the worker and its state.
            result = _error_result(ErrorKind.RUNTIME, type(exc).__name__, str(exc) or type(exc).__name__)
        self._send_result(result)

    def on_probe(self, message: Message) -> Message:
        """Test-only: run trusted host-supplied code *without* the language wall, to inspect the OS wall.

        Only enabled when the host booted the worker with ``test_hooks`` (private executor argument); the
        code comes from the host, never from the model, and runs with the same sandbox, rlimits and seccomp.
        """
        if not self.test_hooks:
            raise PermissionError("probe is disabled")
        namespace: dict[str, Any] = {}
        try:
            exec(compile(message["code"], "<probe>", "exec"), namespace)
        except BaseException as exc:
            return {"t": "probe", "error": f"{type(exc).__name__}: {exc}"}
        return {"t": "probe", "value": codec.encode(namespace.get("result"))}

    # --- helpers -----------------------------------------------------------------------------

    def _require_init(self) -> None:
        if self.runner is None:
            raise RuntimeError("worker not initialised")

    def _install_tools(self, names: list[str]) -> None:
        self.runner.set_tools({name: self._make_stub(str(name)) for name in names})

    def _install_variables(self, values: Mapping[str, Any]) -> None:
        self.runner.set_variables({str(k): codec.decode(v) for k, v in values.items()})

    def _make_stub(self, name: str) -> Callable[..., Any]:
        def stub(*args: Any, **kwargs: Any) -> Any:
            return self.call_tool(name, args, kwargs)

        stub.__name__ = stub.__qualname__ = name
        stub.__doc__ = f"Calls the host tool {name!r}."
        return stub

    def call_tool(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Send a tool call to the host and block until its answer; errors become `ToolCallError`."""
        # One call at a time on the pipe, even if the code calls tools from several threads.
        with self._call_lock:
            return self._call_tool_locked(name, args, kwargs)

    def _call_tool_locked(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._call_id += 1
        call_id = self._call_id
        message = {
            "t": "call",
            "id": call_id,
            "name": name,
            "args": [codec.encode(a) for a in args],
            "kwargs": {str(k): codec.encode(v) for k, v in kwargs.items()},
        }
        try:
            frame = encode_message(message, self.max_message, f"the arguments of tool {name!r}")
        except MessageTooLarge as exc:
            raise ToolCallError(str(exc)) from None
        write_all(self.wfd, frame)
        reply = self.recv()
        while reply.get("t") == "run" and reply.get("fresh"):
            # The tool runs code in a fresh namespace of this sandbox (`codeagent.execution.caller`).
            self._send_result(self._run_fresh(reply))
            reply = self.recv()
        if reply.get("t") != "ret" or reply.get("id") != call_id:
            # The host only ever answers a call with its ret; anything else means we are out of sync.
            raise _Desync(f"expected the answer to call {call_id}, got {reply.get('t')!r}")
        if not reply.get("ok"):
            raise ToolCallError(str(reply.get("message", f"tool {name!r} failed")))
        try:
            return codec.decode(reply.get("value"))
        except codec.CodecError as exc:
            raise ToolCallError(f"could not decode the result of tool {name!r}: {exc}") from None

    def _run_fresh(self, message: Message) -> ExecutionResult:
        """Run code for a tool in a fresh namespace: same policy, no variables, no tools, own output."""
        policy = self.policy
        assert policy is not None  # calls come from actions, which need init
        code, timeout_s = message.get("code"), message.get("timeout_s")
        if not isinstance(code, str) or not isinstance(timeout_s, (int, float)):
            return _error_result(ErrorKind.RUNTIME, "TypeError", "a fresh run needs code and timeout_s")
        try:
            # One runner serves every fresh run, reset in between: the template's spare when there is one
            # (building a runner in a forked child writes to, and so copies, ~170 of the fork server's pages).
            if self._fresh_runner is None:
                self._fresh_runner = _load_runner_class(policy)(policy)
            runner = self._fresh_runner
            runner.reset()
            # The runner swaps the process-wide state it uses (streams, recursion limit, __main__) in for
            # the run and restores the calling action's afterwards.
            runner.owns_process = not self.rehearsal
            return runner.run(code, timeout_s=float(timeout_s))  # type: ignore[no-any-return]
        except _Desync:
            raise
        except MemoryError:
            return _error_result(ErrorKind.MEMORY, "MemoryError", "the code ran out of memory")
        except BaseException as exc:
            return _error_result(ErrorKind.RUNTIME, type(exc).__name__, str(exc) or type(exc).__name__)

    def _send_result(self, result: ExecutionResult) -> None:
        policy = self.policy
        assert policy is not None
        logs = result.logs
        if len(logs) > policy.max_output_chars:  # backstop: the language wall caps output while printing
            logs = logs[: policy.max_output_chars] + "\n...<output truncated>"
        error = result.error
        if error is not None and error.type == "MemoryError":
            error.kind = ErrorKind.MEMORY
        is_final = result.is_final_answer
        try:
            value = codec.encode(result.value)
        except (_Desync, MemoryError):
            raise
        except BaseException as exc:
            # Encoding runs the value's own methods (a __repr__ of the code's class), which may raise
            # anything, SystemExit or a wall signal included: that must end this step, not the worker.
            value, is_final = None, False
            why = f"the value could not be returned: its encoding raised {type(exc).__name__}"
            error = _error_result(ErrorKind.RUNTIME, type(exc).__name__, why).error
        message: Message = {
            "t": "result",
            "logs": logs,
            "value": value,
            "error": None if error is None else _error_dict(error),
            "is_final_answer": is_final,
            "duration_s": result.duration_s,
            "operations": result.operations,
        }
        # Logs are already capped; the value is what max_message_bytes limits.
        limit = self.max_message + 4 * policy.max_output_chars + (1 << 16)
        try:
            frame = encode_message(message, limit, "the result")
            value_size = 0
            if len(frame) > self.max_message:  # only then can the value alone be over the limit
                value_size = len(frame) - len(encode_message({**message, "value": None}, limit))
        except MessageTooLarge as exc:
            value_size = exc.size
        if value_size > self.max_message:
            what = "final answer" if result.is_final_answer else "value of the last expression"
            message["value"] = None
            message["is_final_answer"] = False
            message["error"] = {
                "kind": ErrorKind.OUTPUT_LIMIT.value,
                "type": "ValueError",
                "message": f"the {what} is too large to return: encoded it is {value_size} bytes, over the "
                f"limit of {self.max_message} bytes (max_message_bytes)",
            }
            frame = encode_message(message, limit, "the result")
        write_all(self.wfd, frame)


class _Desync(BaseException):
    """The host sent something unexpected mid-call; not catchable by the code (BaseException)."""


def _error_dict(error: Any) -> dict[str, Any]:
    return {
        "kind": str(getattr(error.kind, "value", error.kind)),
        "message": str(error.message)[:_MAX_ERROR_CHARS],
        "type": str(error.type),
        "lineno": error.lineno,
        "line": None if error.line is None else str(error.line)[:_MAX_ERROR_CHARS],
    }


def _error_result(kind: ErrorKind, type_name: str, message: str) -> ExecutionResult:
    from codeagent.execution.types import ExecutionError

    return ExecutionResult(error=ExecutionError(kind=kind, message=message, type=type_name))


def _redirect_to_devnull(*fds: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        os.dup2(devnull, fd)
    os.close(devnull)


def _take_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0/1 and point them at /dev/null (C-level writes can't corrupt frames)."""
    rfd = os.dup(0)
    wfd = os.dup(1)
    _redirect_to_devnull(0, 1)
    return rfd, wfd


class RunnerTemplate(NamedTuple):
    """A policy parsed ahead of ``init`` and, for the language wall, runners built for it."""

    policy: ExecutionPolicy
    runner: Any  # runs the worker's actions (None: built at init)
    spare: Any  # runs the first fresh-namespace run of a tool (`codeagent.execution.caller`), or None


def make_runner_template(policy_dict: dict[str, Any]) -> RunnerTemplate:
    """Built ahead of ``init`` (by the fork server, for a policy in use): ``init`` with the same policy then
    skips parsing it and, for the language wall, building its runners (the plain runner costs little to
    build, and sets process-wide state when built for the process that runs it)."""
    policy = ExecutionPolicy.from_dict(policy_dict)
    if not policy.language_wall:
        return RunnerTemplate(policy, None, None)
    cls = _load_runner_class(policy)
    return RunnerTemplate(policy, cls(policy), cls(policy))


#: Actions a rehearsal runs (see `rehearse`): the statements actions and tests are made of, a tool call
#: (which runs code in a fresh namespace), a final answer and an error.
_REHEARSAL_ACTIONS = (
    "x = 1",
    "def f(n):\n    return [i * i for i in range(n)]\n\nassert f(3) == [0, 1, 4]\nprint(f(2), len('abc'))",
    "import math\nvalues = {'a': math.sqrt(4.0)}\nfor key, value in values.items():\n    print(key, value)\n"
    "print(tool(x, key=key))",
    "try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n    message = str(exc)\nfinal_answer(message)",
    "undefined_name",
)
#: Worker lives per policy a rehearsal plays: CPython 3.11 specialises a code object after 8 calls.
_REHEARSALS = 10


def rehearse(policies: list[dict[str, Any]]) -> None:
    """Play whole worker lives (init, the actions above, a tool call, exit) in this process, over pipes.

    For the fork server, before it forks: CPython writes into the code objects it runs the first times
    (warm-up counters, specialised instructions, caches), and every page a child writes is copied for that
    child. Paths played here are settled before the fork, so a child's first action costs ~40 fewer page
    copies and ~0.4 ms less CPU. Nothing process-wide is touched (``rehearsal``: no rlimits, no fd changes,
    no recursion limit).
    """
    for policy in policies:
        for _ in range(_REHEARSALS):
            init = {"t": "init", "policy": policy, "tools": ["tool"], "variables": {"v": 1}}
            requests: list[Message] = [init]
            for code in _REHEARSAL_ACTIONS:
                requests.append({"t": "run", "code": code})
                if "tool(" in code:  # the tool runs code in a fresh namespace, then answers
                    fresh = {"t": "run", "fresh": True, "code": _REHEARSAL_ACTIONS[1], "timeout_s": 5.0}
                    requests.append(fresh)
                    requests.append({"t": "ret", "id": 1, "ok": True, "value": codec.encode("done")})
            requests.append({"t": "exit"})
            to_worker_r, to_worker_w = os.pipe()
            from_worker_r, from_worker_w = os.pipe()
            try:
                # Both pipes hold all of it (a few kB): the worker never waits for this side to read.
                write_all(to_worker_w, b"".join(encode_message(r) for r in requests))
                Worker(to_worker_r, from_worker_w, rehearsal=True).serve()
                os.set_blocking(from_worker_r, False)
                with contextlib.suppress(BlockingIOError):
                    while os.read(from_worker_r, 1 << 16):
                        pass
            finally:
                for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                    os.close(fd)


def preload_runners() -> None:
    """Import both runners now, so that a pooled (or forked) worker has paid every import already."""
    _load_runner_class(ExecutionPolicy())
    _load_runner_class(ExecutionPolicy(language_wall=False))


def main() -> None:
    """Worker entry point (``python -m codeagent.execution.worker`` or the bootstrap one-liner)."""
    rfd, wfd = _take_stdio()
    preload_runners()
    serve_and_exit(Worker(rfd, wfd))


def serve_and_exit(worker: Worker) -> None:
    """Serve the protocol until the host is done, then exit the process with a status the host reads."""
    try:
        status = worker.serve()
    except MemoryError:
        status = EXIT_MEMORY
    except _Desync:
        status = EXIT_PROTOCOL
    except (ProtocolError, OSError):
        status = 0  # the pipe broke: the host is gone or killing us
    # os._exit: skip interpreter teardown (finalizers of the code's objects) - nothing to clean up here.
    os._exit(status)
