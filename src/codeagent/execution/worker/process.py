"""Host-side handle of one worker process: spawn, boot handshake, async framed I/O, kill, exit diagnosis.

The handle is not bound to an event loop: the pipes are raw non-blocking fds, and each async read or
write registers with whichever loop is running at that moment (``loop.add_reader``). That lets the warm
pool (a thread) boot workers and hand them to executors living in any loop.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import IO, Protocol

from codeagent.execution.types import ErrorKind
from codeagent.execution.worker.main import EXIT_MEMORY, EXIT_PROTOCOL
from codeagent.execution.worker.protocol import FrameBuffer, Message, ProtocolError, encode_message
from codeagent.execution.worker.sandbox import WORKER_ENV, SpawnSpec, worker_command
from codeagent.execution.worker.seccomp import seccomp_program

#: Largest message the host accepts before ``init`` (``ready``/``ok`` are tiny).
_BOOT_MAX_BYTES = 1 << 20
#: Private temp dirs of workers without bubblewrap that still exist (removed at exit, whatever happened).
_TMPDIRS: set[str] = set()


class WorkerDied(ProtocolError):
    """The worker's pipe closed: it exited or was killed."""


class WorkerStartError(RuntimeError):
    """A worker could not be started or did not complete its boot handshake."""


class ProcessControl(Protocol):
    """How the host watches and stops one worker process, whoever started it."""

    #: The worker's pid as the host sees it (for diagnostics and tests).
    pid: int
    #: Why the worker is gone when its exit status does not tell (e.g. its fork server died).
    exit_reason: str | None

    def poll(self) -> int | None:
        """Exit status once it exited (``Popen.returncode`` style: -N for signal N), else None."""
        ...

    def wait(self, timeout: float) -> int | None:
        """Block up to ``timeout`` seconds for the exit status; None if still running."""
        ...

    def kill(self) -> None:
        """SIGKILL the worker now (and whatever it runs in); never waits."""
        ...

    def close(self) -> None:
        """Release what the handle holds (after the exit)."""
        ...


class PopenControl:
    """A worker started as its own process (bubblewrap + python, or python alone)."""

    def __init__(self, proc: subprocess.Popen[bytes], use_bwrap: bool) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.use_bwrap = use_bwrap
        self.exit_reason: str | None = None

    def _status(self, code: int | None) -> int | None:
        # bubblewrap reports a child killed by signal N as its own exit status 128 + N.
        if code is not None and self.use_bwrap and code > 128:
            return -(code - 128)
        return code

    def poll(self) -> int | None:
        return self._status(self.proc.poll())

    def wait(self, timeout: float) -> int | None:
        try:
            return self._status(self.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        # Its own process group: bwrap, its init and the worker go together.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass

    def close(self) -> None:
        return None


class WorkerProcess:
    """One worker process and its protocol pipes (see `codeagent.execution.worker.protocol`).

    Owns three raw fds: ``wfd`` (host -> worker), ``rfd`` (worker -> host) and ``efd`` (the worker's
    stderr, read only for diagnostics). How the process is watched and killed is up to ``control``: a
    process of its own (`PopenControl`) or a child of the fork server
    (`codeagent.execution.worker.forkserver`).
    """

    def __init__(
        self, spec: SpawnSpec, control: ProcessControl, fds: tuple[int, int, int], tmpdir: str | None = None
    ) -> None:
        self.spec = spec
        self.control = control
        self.tmpdir = tmpdir
        self.wfd, self.rfd, self.efd = fds
        for fd in fds:
            os.set_blocking(fd, False)
        self.buffer = FrameBuffer(_BOOT_MAX_BYTES)
        self.info: Message = {}
        self.killed_by_host = False
        self.spawned_at = time.perf_counter()
        self._closed = False

    @property
    def pid(self) -> int:
        """The worker's pid as seen from the host."""
        return self.control.pid

    # --- spawn and boot (synchronous: run by the pool thread) -------------------------------------

    @classmethod
    def spawn(cls, spec: SpawnSpec) -> WorkerProcess:
        """Start the process and queue its ``boot`` message; `wait_ready` completes the handshake."""
        argv = worker_command(spec)
        tmpdir = None
        env = dict(WORKER_ENV)
        if not spec.use_bwrap:
            # No private /tmp without namespaces: at least a private, fresh working directory.
            tmpdir = tempfile.mkdtemp(prefix="codeagent-worker-")
            _TMPDIRS.add(tmpdir)
            env.update(HOME=tmpdir, TMPDIR=tmpdir)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=tmpdir or "/",
                env=env,
                close_fds=True,
                # Own process group: a timeout kills the whole group (bwrap, its init, the worker).
                start_new_session=True,
            )
        except OSError as exc:
            if tmpdir:
                _remove_tmpdir(tmpdir)
            raise WorkerStartError(f"could not start the worker: {exc}") from exc
        fds = tuple(_take_fd(stream) for stream in (proc.stdin, proc.stdout, proc.stderr))
        worker = cls(spec, PopenControl(proc, spec.use_bwrap), (fds[0], fds[1], fds[2]), tmpdir)
        program = seccomp_program(spec.network) if spec.seccomp else None
        boot = {
            "t": "boot",
            "seccomp": base64.b64encode(program).decode("ascii") if program else None,
            "test_hooks": spec.test_hooks,
            # Without bubblewrap's --die-with-parent the worker arranges its own death with the host.
            "parent": None if spec.use_bwrap else os.getpid(),
        }
        worker._write_sync(encode_message(boot))
        return worker

    def wait_ready(self, timeout: float) -> Message:
        """Block until the ``ready`` message (or failure); returns its fields."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.buffer.pop()
            if message is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerStartError(f"the worker did not become ready within {timeout:g} s")
            if wait_for_fd(self.rfd, timeout=remaining):
                data = self._read_available()
                if data is None:
                    continue
                if not data:
                    self.kill()
                    code = self.control.wait(timeout=2.0)
                    tail = self.stderr_tail() or "-"
                    self.reap(timeout=0.1)
                    raise WorkerStartError(f"the worker exited during start-up (status {code}): {tail}")
                self.buffer.feed(data)
        if message.get("t") != "ready":
            self.kill()
            raise WorkerStartError(f"worker boot failed: {message.get('message', message)}")
        self.info = message
        return message

    def _write_sync(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.wfd, view) :]
            except BlockingIOError:
                wait_for_fd(self.wfd, writable=True, timeout=1.0)

    def _read_available(self) -> bytes | None:
        """Bytes available now; b"" on EOF; None if nothing to read yet."""
        try:
            return os.read(self.rfd, 1 << 20)
        except BlockingIOError:
            return None

    # --- async I/O (executor side) ----------------------------------------------------------------

    def set_max_message(self, max_bytes: int) -> None:
        self.buffer.max_bytes = max_bytes

    async def send(self, message: Message, limit: int, what: str = "message") -> None:
        """Frame and write one message; `MessageTooLarge` above ``limit``, `WorkerDied` on a broken pipe."""
        await self.write(encode_message(message, limit, what))

    async def write(self, frame: bytes) -> None:
        view = memoryview(frame)
        loop = asyncio.get_running_loop()
        while view:
            try:
                view = view[os.write(self.wfd, view) :]
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as exc:
                raise WorkerDied(f"the worker's pipe is closed ({exc})") from None
            # Pipe full (a large message and a busy worker): wait until writable.
            fut: asyncio.Future[None] = loop.create_future()
            loop.add_writer(self.wfd, _set_done, fut)
            try:
                await fut
            finally:
                loop.remove_writer(self.wfd)

    async def recv(self, deadline: float | None = None) -> Message:
        """The next message; `TimeoutError` at ``deadline`` (loop time), `WorkerDied` on EOF."""
        loop = asyncio.get_running_loop()
        while True:
            message = self.buffer.pop()
            if message is not None:
                return message
            try:
                data = os.read(self.rfd, 1 << 20)
            except BlockingIOError:
                await self._wait_readable(loop, deadline)
                continue
            except OSError as exc:
                raise WorkerDied(f"reading from the worker failed: {exc}") from None
            if not data:
                raise WorkerDied("the worker closed its pipe")
            self.buffer.feed(data)

    async def _wait_readable(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        # A bare future + add_reader + call_at: cheaper than wait_for (no task) on the hot path.
        fut: asyncio.Future[None] = loop.create_future()
        loop.add_reader(self.rfd, _set_done, fut)
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _set_timeout, fut)
        try:
            await fut
        finally:
            loop.remove_reader(self.rfd)
            if timer is not None:
                timer.cancel()

    # --- lifecycle ----------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.control.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker now (never waits for the code)."""
        self.killed_by_host = True
        self.control.kill()

    def reap(self, timeout: float = 5.0) -> int | None:
        """Wait (blocking) for the process to exit; close pipes and the temp dir. Returns the status."""
        code = self.control.wait(timeout)
        if code is not None:
            self.close_pipes()
        elif self.tmpdir:  # killed (every caller kills first) but not gone yet: its temp dir goes now
            _remove_tmpdir(self.tmpdir)
            self.tmpdir = None
        return code

    async def wait_exit(self, within_s: float = 2.0) -> int | None:
        """Poll (async) for the exit status; None if still running after ``within_s`` seconds."""
        end = time.monotonic() + within_s
        delay = 0.0005
        while True:
            code = self.control.poll()
            if code is not None or time.monotonic() >= end:
                return code
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def close_pipes(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self.wfd, self.rfd, self.efd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.control.close()
        if self.tmpdir:
            _remove_tmpdir(self.tmpdir)
            self.tmpdir = None

    def stderr_tail(self, limit: int = 4000) -> str:
        """What the worker (or bwrap) wrote to stderr, for crash diagnostics."""
        if self._closed:  # the fd number may belong to someone else by now
            return ""
        chunks: list[bytes] = []
        try:
            while sum(map(len, chunks)) < 1 << 16:
                data = os.read(self.efd, 1 << 16)
                if not data:
                    break
                chunks.append(data)
        except (BlockingIOError, OSError, ValueError):
            pass
        return b"".join(chunks).decode("utf-8", "replace").strip()[-limit:]

    def describe_exit(self, code: int | None) -> tuple[ErrorKind, str]:
        """Classify an unexpected death from the exit status: (kind, human-readable reason)."""
        if code is None:
            return ErrorKind.CRASHED, "the worker stopped responding"
        if self.control.exit_reason:
            return ErrorKind.CRASHED, self.control.exit_reason
        sig = -code if code < 0 else 0
        if code == EXIT_MEMORY:
            return ErrorKind.MEMORY, "the worker ran out of memory"
        if code == EXIT_PROTOCOL:
            return ErrorKind.CRASHED, "the worker lost track of the bridge protocol"
        if sig == signal.SIGXCPU:
            return ErrorKind.TIMEOUT, "the worker used up its CPU-time limit (policy.cpu_s)"
        if sig == signal.SIGKILL:
            return (
                ErrorKind.MEMORY,
                "the worker was killed (SIGKILL), most likely by the out-of-memory killer",
            )
        if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            name = signal.Signals(sig).name
            return ErrorKind.CRASHED, (
                f"the worker crashed with {name} (e.g. a C extension failing under the memory limit, "
                "or a stack overflow)"
            )
        if sig:
            return ErrorKind.CRASHED, f"the worker was killed by signal {sig}"
        tail = self.stderr_tail(500)
        return ErrorKind.CRASHED, f"the worker exited with status {code}" + (f": {tail}" if tail else "")


def _remove_tmpdir(path: str) -> None:
    _TMPDIRS.discard(path)
    shutil.rmtree(path, ignore_errors=True)


@atexit.register
def _remove_leftover_tmpdirs() -> None:
    """Temp dirs of workers never reaped (an executor not closed, a worker slow to die) go at exit."""
    for path in list(_TMPDIRS):
        _remove_tmpdir(path)


def wait_for_fd(fd: int, *, timeout: float, writable: bool = False) -> bool:
    """Block until ``fd`` is readable (or writable, or closed at the other end); False after ``timeout`` s.

    ``poll``, not ``select``: a host running many workers has pipes numbered past select's limit of 1023.
    """
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writable else select.POLLIN)
    return bool(poller.poll(max(0, math.ceil(timeout * 1000))))


def _take_fd(stream: IO[bytes] | None) -> int:
    """A raw fd of our own for a Popen pipe (the file object is closed, so only we ever close the fd)."""
    assert stream is not None
    fd = os.dup(stream.fileno())
    stream.close()
    return fd


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _set_timeout(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())
