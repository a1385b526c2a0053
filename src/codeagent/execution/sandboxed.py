"""`SandboxedExecutor`: the library's default executor — code actions run in a sandboxed worker process.

Two walls: the language wall (`CodeRunner`, inside the worker) and the OS wall around the worker
(bubblewrap namespaces, read-only system, private /tmp, uid 65534, rlimits, seccomp; see
`codeagent.execution.worker.sandbox`). Tools stay on the host and are called over the bridge
(`codeagent.execution.worker.protocol`); values cross it as tagged JSON (`codeagent.execution.worker.codec`).

Timeouts: ``policy.timeout_s`` is wall-clock time of the *code*. Time spent inside host tools is not counted
(the deadline is pushed back by each tool call's duration), so a slow web search does not eat the action's
budget; a tool that never returns is the tool's problem (give it its own timeout). When the deadline passes
the host SIGKILLs the worker's process group at once — it never waits for the code.

Start cost: workers come from a process-wide warm pool (`codeagent.execution.worker.pool`) that keeps one
booted worker per sandbox configuration; ``configure_pools(n)`` keeps ``n`` ready, e.g. before starting
``n`` agents at once. With bubblewrap the pool forks workers from a fork server
(`codeagent.execution.worker.zygote`): ~3.5 ms a worker instead of ~60 ms. A worker serves one executor
only and is killed afterwards (never reused).
"""

from __future__ import annotations

import asyncio
import inspect
import keyword
import time
from collections.abc import Mapping
from typing import Any

from codeagent.execution.caller import SandboxLost, called_from
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ErrorKind, ExecutionError, ExecutionResult, ToolCallError, ToolFunction
from codeagent.execution.worker import codec
from codeagent.execution.worker.pool import configure_pools, get_pool
from codeagent.execution.worker.process import WorkerDied, WorkerProcess, WorkerStartError
from codeagent.execution.worker.protocol import MessageTooLarge, ProtocolError, encode_message
from codeagent.execution.worker.sandbox import (
    SandboxStatus,
    SandboxUnavailable,
    SpawnSpec,
    sandbox_status,
    sandbox_status_known,
    warn_fallback,
)

__all__ = ["SandboxUnavailable", "SandboxedExecutor", "WorkerStartError", "configure_pools"]

#: Seconds allowed for ``init``/``tools``/``vars`` round-trips with a fresh worker.
_SETUP_TIMEOUT_S = 30.0
#: Room for the JSON envelope around a value limited by ``max_message_bytes``.
_ENVELOPE = 1 << 16
#: A fresh-namespace run (see `codeagent.execution.caller`) stops itself at its timeout in the language wall;
#: past the timeout plus this grace (a long C call, or no language wall) the host kills the worker.
_FRESH_RUN_GRACE_S = 1.0

_RESET_NOTE = (
    " The worker process was replaced: variables, functions and imports from earlier steps are gone "
    "(tools and variables given by the host are available again)."
)


class SandboxedExecutor:
    """Runs code actions in a sandboxed worker process; state persists between `run` calls.

    Each executor owns one worker at a time, taken from a process-wide warm pool. If the worker has to be
    killed (timeout, memory, crash), that step's result says why (``error.kind`` TIMEOUT/MEMORY/CRASHED) and
    has ``state_reset=True``; the next step runs in a fresh worker, gets the tools and variables given by
    `send_tools`/`send_variables` again, and its result also has ``state_reset=True``.

    Args:
        policy: limits and permissions (language wall and OS wall).
        require_sandbox: raise `SandboxUnavailable` (from the first call) unless bubblewrap *and* seccomp
            work here, instead of falling back to a plain subprocess with a logged warning.
        bubblewrap: force bubblewrap on (True) or off (False); None picks it when available.
        seccomp: force the seccomp filter on/off; None uses it when pyseccomp is installed.
        fork_server: with bubblewrap, fork the worker from a fork server in one shared sandbox (~3.5 ms;
            workers still get their own /tmp, mount and IPC namespaces, and cannot signal, trace or limit
            each other) instead of starting a sandbox of its own (~60 ms; also its own pid and network
            namespaces).

    Example:
        >>> import asyncio
        >>> async def main() -> None:
        ...     async with SandboxedExecutor(ExecutionPolicy(timeout_s=5)) as executor:
        ...         await executor.send_tools({"double": lambda x: 2 * x})
        ...         await executor.send_variables({"n": 20})
        ...         result = await executor.run("y = double(n) + 2\\nprint(y)")
        ...         assert result.logs == "42\\n"
        ...         result = await executor.run("final_answer(y)")
        ...         assert result.is_final_answer and result.value == 42
        >>> asyncio.run(main())  # doctest: +SKIP
    """

    def __init__(
        self,
        policy: ExecutionPolicy | None = None,
        *,
        require_sandbox: bool = False,
        bubblewrap: bool | None = None,
        seccomp: bool | None = None,
        fork_server: bool = True,
        _test_hooks: bool = False,
    ) -> None:
        self.policy = policy or ExecutionPolicy()
        self.require_sandbox = require_sandbox
        self._want_bwrap = bubblewrap
        self._want_seccomp = seccomp
        self._fork_server = fork_server
        self._test_hooks = _test_hooks
        self._spec: SpawnSpec | None = None
        self._status: SandboxStatus | None = None
        self._worker: WorkerProcess | None = None
        self._tools: dict[str, ToolFunction] = {}
        self._variables: dict[str, Any] = {}  # encoded (tagged JSON), re-sent to every fresh worker
        self._pending_reset = False
        #: Why the worker was lost during a tool call (a fresh-namespace run gone wrong): ends that action.
        self._lost: tuple[ErrorKind, str] | None = None
        self._busy = False
        self._closed = False

    # --- public API ---------------------------------------------------------------------------------

    async def run(self, code: str) -> ExecutionResult:
        """Run one code action; problems of the code are returned in ``error``, never raised.

        Raises `SandboxUnavailable` / `WorkerStartError` only for infrastructure failures (no sandbox when
        one is required, a worker that cannot start).
        """
        self._check_usable()
        self._busy = True
        try:
            return await self._run(code)
        finally:
            self._busy = False

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Make these values global variables of the next actions (they survive worker resets).

        Values are encoded as tagged JSON (see `codeagent.execution.worker.codec`); raises `ValueError`
        for invalid names or when the encoded values exceed ``policy.max_message_bytes``.
        """
        self._check_usable()
        encoded = {_check_name(name, "variable"): codec.encode(value) for name, value in variables.items()}
        try:
            encode_message({"t": "vars", "values": encoded}, self.policy.max_message_bytes, "the variables")
        except MessageTooLarge as exc:
            raise ValueError(f"cannot send variables: {exc} (ExecutionPolicy.max_message_bytes)") from None
        self._variables.update(encoded)
        if self._worker is not None and self._worker.alive():
            await self._setup_call(self._worker, {"t": "vars", "values": encoded})

    async def send_tools(self, tools: Mapping[str, ToolFunction]) -> None:
        """Make these host callables (sync or async) callable by name from the next actions.

        Sync tools run in a thread (``asyncio.to_thread``), async tools are awaited on the executor's loop.
        A tool's exception reaches the code as `ToolCallError` with the tool's message.
        """
        self._check_usable()
        for name, fn in tools.items():
            _check_name(name, "tool")
            if not callable(fn):
                raise TypeError(f"tool {name!r} is not callable")
        self._tools.update(tools)
        if self._worker is not None and self._worker.alive():
            await self._setup_call(self._worker, {"t": "tools", "names": list(tools)})

    async def start(self) -> None:
        """Take and initialise a worker now instead of at the first `run` (optional).

        Lets an agent overlap the worker's start with its first model call, and surfaces
        `SandboxUnavailable` early.
        """
        self._check_usable()
        await self._ensure_worker()

    async def close(self) -> None:
        """Kill the worker; the executor cannot be used afterwards. Idempotent."""
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None and self._spec is not None:
            get_pool(self._spec).discard(worker)

    def __del__(self) -> None:
        # Forgotten without close(): do not leave an idle worker behind until the host exits.
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.kill()

    async def __aenter__(self) -> SandboxedExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def sandbox(self) -> dict[str, Any]:
        """How the current worker is isolated: ``{"bubblewrap": bool, "seccomp": bool, "uid": int, ...}``."""
        info: dict[str, Any] = {}
        if self._spec is not None:
            info.update(bubblewrap=self._spec.use_bwrap, seccomp=self._spec.seccomp)
        if self._worker is not None:
            info.update(uid=self._worker.info.get("uid"), seccomp_mode=self._worker.info.get("seccomp"))
        return info

    async def _probe(self, code: str) -> Any:
        """Test hook: run *trusted* code in the worker without the language wall (needs ``_test_hooks``).

        Sets ``result`` in the probe's namespace to return a value. Used by the test-suite to check the
        OS wall from inside (uid, visible files, network, fork) independently of the language wall.
        """
        if not self._test_hooks:
            raise RuntimeError("probes need SandboxedExecutor(_test_hooks=True)")
        worker = await self._ensure_worker()
        loop = asyncio.get_running_loop()
        await worker.send({"t": "probe", "code": code}, self._max_in())
        reply = await worker.recv(loop.time() + self.policy.timeout_s)
        if "error" in reply:
            raise RuntimeError(f"probe failed: {reply['error']}")
        return codec.decode(reply.get("value"))

    # --- internals ----------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("this SandboxedExecutor is closed")
        if self._busy:
            raise RuntimeError("SandboxedExecutor.run() is already in progress; actions run one at a time")

    async def _resolve_spec(self) -> SpawnSpec:
        if self._spec is None:
            # The first probe runs bubblewrap (tens of ms): off the loop. Later ones are a cached lookup.
            status = sandbox_status() if sandbox_status_known() else await asyncio.to_thread(sandbox_status)
            self._status = status
            if self.require_sandbox and not status.full:
                raise SandboxUnavailable(f"the OS sandbox is required but unavailable: {status.reason}")
            if not self.policy.language_wall and not status.full:
                # Without the language wall the OS wall is the only one: never run that unconfined.
                raise SandboxUnavailable(
                    f"language_wall=False needs bubblewrap and seccomp, unavailable here: {status.reason}"
                )
            if not self.policy.language_wall and (self._want_bwrap is False or self._want_seccomp is False):
                raise SandboxUnavailable(
                    "language_wall=False cannot run with bubblewrap or seccomp turned off"
                )
            use_bwrap = status.bwrap is not None if self._want_bwrap is None else self._want_bwrap
            if use_bwrap and status.bwrap is None:
                raise SandboxUnavailable(f"bubblewrap was requested but is unavailable: {status.reason}")
            use_seccomp = status.seccomp if self._want_seccomp is None else self._want_seccomp
            if use_seccomp and not status.seccomp:
                raise SandboxUnavailable("seccomp was requested but pyseccomp/libseccomp is unavailable")
            if not use_bwrap and self._want_bwrap is None:
                warn_fallback(status.reason)
            self._spec = SpawnSpec(
                use_bwrap=use_bwrap,
                network=self.policy.network,
                tmp_size_mb=max(16, 2 * self.policy.file_size_mb),
                seccomp=use_seccomp,
                test_hooks=self._test_hooks,
                fork_server=self._fork_server,
            )
        return self._spec

    async def _ensure_worker(self) -> WorkerProcess:
        worker = self._worker
        if worker is not None:
            if worker.alive():
                return worker
            self._drop_worker()  # died while idle (killed from outside): its state is gone
        spec = await self._resolve_spec()
        pool = get_pool(spec)
        policy = self.policy.to_dict()
        pool.note_policy(policy)
        worker = await pool.acquire()
        try:
            worker.set_max_message(self._max_in())
            init = {"t": "init", "policy": policy, "tools": list(self._tools)}
            await self._setup_call(worker, init)
            for batch in self._variable_batches():
                await self._setup_call(worker, {"t": "vars", "values": batch})
        except BaseException:
            get_pool(spec).discard(worker)
            raise
        self._worker = worker
        return worker

    def _variable_batches(self) -> list[dict[str, Any]]:
        """Stored variables split into messages under the size limit (each value fits alone)."""
        batches: list[dict[str, Any]] = []
        current: dict[str, Any] = {}
        size = 0
        limit = self.policy.max_message_bytes
        for name, value in self._variables.items():
            item = len(encode_message({"v": value}))
            if current and size + item > limit:
                batches.append(current)
                current, size = {}, 0
            current[name] = value
            size += item
        if current:
            batches.append(current)
        return batches

    def _max_in(self) -> int:
        # A result carries logs (capped by the output budget, <= 4 bytes/char) and a value
        # (max_message_bytes).
        return self.policy.max_message_bytes + 4 * self.policy.max_output_chars + 2 * _ENVELOPE

    async def _setup_call(self, worker: WorkerProcess, message: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await worker.send(message, self.policy.max_message_bytes + _ENVELOPE)
            reply = await worker.recv(loop.time() + _SETUP_TIMEOUT_S)
        except (ProtocolError, TimeoutError) as exc:
            if worker is self._worker:  # a live worker broke: its state is gone (a fresh one is discarded)
                self._drop_worker()
            raise WorkerStartError(f"the worker failed during {message['t']!r}: {exc}") from None
        if reply.get("t") != "ok":
            raise ValueError(f"the worker refused {message['t']!r}: {reply.get('message', reply)}")
        if message["t"] == "init":
            worker.info["prepared_runner"] = bool(reply.get("prepared"))

    def _drop_worker(self) -> None:
        worker, self._worker = self._worker, None
        self._pending_reset = True
        if worker is not None and self._spec is not None:
            get_pool(self._spec).discard(worker)

    async def _run(self, code: str) -> ExecutionResult:
        start = time.perf_counter()
        tool_calls: list[str] = []
        try:
            frame = encode_message({"t": "run", "code": code}, self.policy.max_message_bytes, "the code")
        except MessageTooLarge as exc:
            return ExecutionResult(
                error=ExecutionError(kind=ErrorKind.RUNTIME, type="ValueError", message=str(exc)),
                state_reset=self._take_reset(),
            )
        worker = await self._ensure_worker()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.timeout_s
        try:
            await worker.write(frame)
            while True:
                message = await worker.recv(deadline)
                kind = message["t"]
                if kind == "call":
                    paused = loop.time()
                    tool_calls.append(str(message.get("name")))
                    reply = await self._call_tool(message, worker)
                    if self._lost is not None:  # the tool's fresh-namespace run cost the worker
                        (lost_kind, why), self._lost = self._lost, None
                        return self._fail(lost_kind, why, start, tool_calls)
                    deadline += loop.time() - paused  # time in host tools does not count
                    await worker.write(self._encode_reply(reply, message))
                elif kind == "result":
                    return self._finish(message, start, tool_calls)
                elif kind == "error":
                    # The worker failed outside the code (e.g. no memory left to encode the result).
                    self._drop_worker()
                    lost = ErrorKind.MEMORY if message.get("kind") == "memory" else ErrorKind.CRASHED
                    text = f"The worker failed: {message.get('message')}."
                    return self._fail(lost, text, start, tool_calls)
                else:
                    raise ProtocolError(f"unexpected message {kind!r} during a run")
        except TimeoutError:
            self._drop_worker()
            message_text = (
                f"the action did not finish within {self.policy.timeout_s:g} s of wall-clock time "
                "(time in tools excluded) and was stopped."
            )
            return self._fail(ErrorKind.TIMEOUT, message_text, start, tool_calls)
        except WorkerDied:
            status = await worker.wait_exit()
            kind_, why = worker.describe_exit(status)
            self._drop_worker()
            return self._fail(kind_, why[:1].upper() + why[1:] + ".", start, tool_calls)
        except ProtocolError as exc:  # includes MessageTooLarge from a misbehaving worker
            self._drop_worker()
            return self._fail(
                ErrorKind.CRASHED, f"The worker broke the bridge protocol: {exc}.", start, tool_calls
            )
        except BaseException:
            # Cancelled (or a bug here): the code may still be running, so the worker cannot be trusted.
            self._drop_worker()
            raise

    def _take_reset(self) -> bool:
        reset, self._pending_reset = self._pending_reset, False
        return reset

    def _fail(
        self, kind: ErrorKind, message: str, start: float, tool_calls: list[str] | None = None
    ) -> ExecutionResult:
        """Result of a failed step; if its worker was lost (dropped by the caller), the *next* run is also
        flagged ``state_reset`` (the flag stays pending)."""
        lost = self._worker is None
        return ExecutionResult(
            error=ExecutionError(kind=kind, message=message + (_RESET_NOTE if lost else ""), type=""),
            duration_s=time.perf_counter() - start,
            state_reset=True if lost else self._take_reset(),
            tool_calls=list(tool_calls or []),
        )

    def _finish(self, message: dict[str, Any], start: float, tool_calls: list[str]) -> ExecutionResult:
        try:
            result = _result_from_message(message, start, tool_calls)
        except (codec.CodecError, TypeError, ValueError, KeyError) as exc:
            self._drop_worker()
            return self._fail(
                ErrorKind.CRASHED, f"The worker sent an invalid result: {exc}.", start, tool_calls
            )
        error = result.error
        if error is not None and error.kind is ErrorKind.MEMORY:
            # The memory limit was hit: whatever filled it may still be referenced; start clean.
            self._drop_worker()  # leaves the reset pending: the next run is flagged too
            error.message += _RESET_NOTE
            result.state_reset = True
            return result
        result.state_reset = self._take_reset()
        return result

    async def _call_tool(self, message: dict[str, Any], worker: WorkerProcess) -> dict[str, Any]:
        caller = _CallingWorker(self, worker)
        try:
            with called_from(caller):
                return await self._call_tool_here(message)
        finally:
            caller.open = False

    async def _run_fresh(self, worker: WorkerProcess, code: str, timeout_s: float) -> ExecutionResult:
        """Run `code` in a fresh namespace of `worker`, which is waiting for a tool call's answer."""
        start = time.perf_counter()
        message = {"t": "run", "fresh": True, "code": code, "timeout_s": timeout_s}
        try:
            frame = encode_message(message, self.policy.max_message_bytes, "the code")
        except MessageTooLarge as exc:
            return ExecutionResult(
                error=ExecutionError(kind=ErrorKind.RUNTIME, type="ValueError", message=str(exc))
            )
        if worker is not self._worker:
            raise SandboxLost("the calling sandbox is gone")
        loop = asyncio.get_running_loop()
        try:
            await worker.write(frame)
            reply = await worker.recv(loop.time() + timeout_s + _FRESH_RUN_GRACE_S)
        except TimeoutError:
            raise self._lose(
                ErrorKind.TIMEOUT,
                f"Code a tool ran in this sandbox did not finish within {timeout_s:g} s and could not be "
                "stopped otherwise: the worker was stopped.",
            ) from None
        except WorkerDied:
            kind, why = worker.describe_exit(await worker.wait_exit())
            raise self._lose(kind, f"While a tool ran code in this sandbox, {why}.") from None
        except ProtocolError as exc:
            raise self._lose(ErrorKind.CRASHED, f"The worker broke the bridge protocol: {exc}.") from None
        if reply.get("t") != "result":
            text = f"The worker failed during a tool's run: {reply.get('message', reply.get('t'))}."
            raise self._lose(ErrorKind.MEMORY if reply.get("kind") == "memory" else ErrorKind.CRASHED, text)
        try:
            return _result_from_message(reply, start, [])
        except (codec.CodecError, TypeError, ValueError, KeyError) as exc:
            raise self._lose(ErrorKind.CRASHED, f"The worker sent an invalid result: {exc}.") from None

    def _lose(self, kind: ErrorKind, why: str) -> SandboxLost:
        """Drop the worker during a tool call; the calling action ends with `kind` and `why`."""
        self._drop_worker()
        self._lost = (kind, why)
        return SandboxLost(why)

    async def _call_tool_here(self, message: dict[str, Any]) -> dict[str, Any]:
        name = message.get("name")
        fn = self._tools.get(name) if isinstance(name, str) else None
        if fn is None:
            return {"ok": False, "message": f"unknown tool {name!r}"}
        try:
            args = [codec.decode(a) for a in message.get("args") or []]
            kwargs = {str(k): codec.decode(v) for k, v in (message.get("kwargs") or {}).items()}
        except (codec.CodecError, AttributeError, TypeError) as exc:
            return {"ok": False, "message": f"invalid arguments for tool {name!r}: {exc}"}
        try:
            if _is_async(fn):
                result = await fn(*args, **kwargs)
            else:
                result = await asyncio.to_thread(fn, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except ToolCallError as exc:
            return {"ok": False, "message": str(exc)}
        except Exception as exc:
            return {"ok": False, "message": f"tool {name!r} failed: {type(exc).__name__}: {exc}"}
        return {"ok": True, "value": codec.encode(result)}

    def _encode_reply(self, reply: dict[str, Any], call: dict[str, Any]) -> bytes:
        message = {"t": "ret", "id": call.get("id"), **reply}
        limit = self.policy.max_message_bytes
        try:
            return encode_message(message, limit, f"the result of tool {call.get('name')!r}")
        except MessageTooLarge as exc:
            text = f"{exc} (ExecutionPolicy.max_message_bytes); ask the tool for less data"
            return encode_message({"t": "ret", "id": call.get("id"), "ok": False, "message": text})


class _CallingWorker:
    """`CallerSandbox` for one tool call made by an executor's worker (valid during that call only)."""

    def __init__(self, executor: SandboxedExecutor, worker: WorkerProcess) -> None:
        self.executor = executor
        self.worker = worker
        self.open = True
        self._running = False

    async def run_fresh(self, code: str, *, timeout_s: float) -> ExecutionResult:
        if not self.open:
            raise RuntimeError("a caller sandbox can only be used during the tool call that received it")
        if self._running:
            raise RuntimeError("one fresh run at a time: the caller sandbox is busy")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self._running = True
        try:
            return await self.executor._run_fresh(self.worker, code, timeout_s)
        finally:
            self._running = False


def _result_from_message(message: dict[str, Any], start: float, tool_calls: list[str]) -> ExecutionResult:
    """The worker's ``result`` message as an `ExecutionResult` (raises on a malformed message)."""
    logs = message.get("logs", "")
    if not isinstance(logs, str):
        raise TypeError("logs must be a string")
    return ExecutionResult(
        logs=logs,
        value=codec.decode(message.get("value")),
        error=_error_from_dict(message.get("error")),
        is_final_answer=bool(message.get("is_final_answer")),
        duration_s=time.perf_counter() - start,
        operations=int(message.get("operations") or 0),
        tool_calls=tool_calls,
    )


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"invalid {what} name {name!r}: must be a Python identifier")
    return name


def _error_from_dict(data: Any) -> ExecutionError | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TypeError("error must be an object")
    try:
        kind = ErrorKind(str(data.get("kind")))
    except ValueError:
        kind = ErrorKind.RUNTIME
    lineno = data.get("lineno")
    line = data.get("line")
    return ExecutionError(
        kind=kind,
        message=str(data.get("message", "")),
        type=str(data.get("type") or ""),
        lineno=lineno if isinstance(lineno, int) else None,
        line=line if isinstance(line, str) else None,
    )
