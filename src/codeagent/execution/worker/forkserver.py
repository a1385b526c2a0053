"""Host side of the fork server: start it, ask it for workers, learn their exit statuses, kill them.

One `ForkServer` per `SpawnSpec` (with bubblewrap), owned by that spec's warm pool and driven from the
pool's thread. What runs inside the sandbox, and how each forked worker is isolated from its siblings, is
described in `codeagent.execution.worker.zygote`.

The host never depends on the fork server to stop a worker: each child comes with a pidfd, and a timeout
is ``pidfd_send_signal(SIGKILL)`` straight from the host. Exit statuses come from the fork server (their
parent); if the fork server itself dies, its children die with it (it is their pid namespace's init) and
every one of them is reported killed.

Example:
    >>> server = ForkServer(SpawnSpec(use_bwrap=True))  # doctest: +SKIP
    >>> worker = server.spawn()  # a WorkerProcess, booted by the pool as usual  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from typing import Any

from codeagent.execution.worker.process import WorkerProcess, WorkerStartError
from codeagent.execution.worker.sandbox import WORKER_ENV, SpawnSpec, zygote_command
from codeagent.execution.worker.seccomp import seccomp_program
from codeagent.execution.worker.zygote import MAX_BATCH, default_preload

log = logging.getLogger("codeagent.execution.forkserver")

#: Seconds the fork server may take to start (imports, trial fork); generous on a loaded machine.
START_TIMEOUT_S = 60.0
#: Seconds one fork may take.
SPAWN_TIMEOUT_S = 30.0
_MAX_PACKET = 1 << 16


class ForkServerUnavailable(WorkerStartError):
    """The fork server cannot run here (e.g. no mount namespaces for its children); use a sandbox each."""


class ForkedControl:
    """`ProcessControl` of a forked worker: kill by pidfd, exit status reported by the fork server."""

    def __init__(self, pidfd: int) -> None:
        self.pidfd = pidfd
        self.pid = _host_pid(pidfd)
        self._status: int | None = None
        self._exited = threading.Event()
        self.exit_reason: str | None = None

    def set_exit(self, status: int, reason: str | None = None) -> None:
        if not self._exited.is_set():
            self._status = status
            self.exit_reason = reason
            self._exited.set()

    def poll(self) -> int | None:
        return self._status

    def wait(self, timeout: float) -> int | None:
        self._exited.wait(timeout)
        return self._status

    def kill(self) -> None:
        with contextlib.suppress(OSError):  # already gone, or pidfd closed
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def close(self) -> None:
        pidfd, self.pidfd = self.pidfd, -1
        if pidfd >= 0:
            with contextlib.suppress(OSError):
                os.close(pidfd)


class ForkServer:
    """A running fork server for one spec; `spawn` returns a new worker (thread-safe)."""

    def __init__(self, spec: SpawnSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._replies: dict[int, tuple[dict[str, Any], list[int]]] = {}
        self._reply_ready = threading.Condition(self._lock)
        self._children: dict[int, ForkedControl] = {}  # sandbox pid -> control
        self._next_id = 0
        self._dead = False
        self._stopping = False
        self._abandoned: set[int] = set()
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                zygote_command(spec),
                stdin=zygote_end.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd="/",
                env=dict(WORKER_ENV),
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            host_end.close()
            raise ForkServerUnavailable(f"could not start the fork server: {exc}") from exc
        finally:
            zygote_end.close()
        self._control = host_end
        try:
            self._boot()
        except BaseException:
            self.shutdown()
            raise
        _lower_group_priority(self._proc.pid)
        self._reader = threading.Thread(target=self._read_loop, name="codeagent-forkserver", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """Host pid of the fork server's sandbox (bubblewrap)."""
        pid: int = self._proc.pid
        return pid

    def alive(self) -> bool:
        return not self._dead and self._proc.poll() is None

    def spawn(self) -> WorkerProcess:
        """Fork a worker; it says ``ready`` on its own pipe (`WorkerProcess.wait_ready`)."""
        workers, problem = self.spawn_many(1)
        if not workers:
            raise WorkerStartError(f"the fork server could not fork: {problem}")
        return workers[0]

    def spawn_many(self, count: int) -> tuple[list[WorkerProcess], str | None]:
        """Fork up to ``count`` workers (at most `MAX_BATCH`) with one request; returns them and, when fewer
        than ``count`` came, why. Raises `WorkerStartError` when the fork server cannot be asked at all."""
        count = max(1, min(count, MAX_BATCH))
        ours: list[tuple[int, int, int]] = []
        theirs: list[int] = []
        try:
            for _ in range(count):
                to_child_r, to_child_w = os.pipe2(os.O_CLOEXEC)
                from_child_r, from_child_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                ours.append((to_child_w, from_child_r, err_r))
                theirs += (to_child_r, from_child_w, err_w)
            reply, pidfds = self._request({"t": "spawn", "n": count}, theirs)
        except BaseException:
            for fd in [fd for triple in ours for fd in triple]:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        pids = reply.get("pids") if reply.get("t") == "spawned" else None
        if not isinstance(pids, list) or len(pids) != len(pidfds) or len(pids) > count:
            # A failure, or garbage: any child forked sees its pipes closed below and exits.
            for fd in pidfds:
                os.close(fd)
            pids, pidfds = [], []
        workers: list[WorkerProcess] = []
        with self._lock:
            for pid, pidfd, fds in zip(pids, pidfds, ours, strict=False):
                control = ForkedControl(pidfd)
                self._children[int(pid)] = control
                workers.append(WorkerProcess(self.spec, control, fds))
        for fds in ours[len(workers) :]:  # the children that were not forked
            for fd in fds:
                os.close(fd)
        problem = None if len(workers) == count else str(reply.get("message") or reply)
        return workers, problem

    def _request(self, message: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], list[int]]:
        """Send a spawn request with ``fds`` and wait for its reply (a message and the fds it carried)."""
        with self._lock:
            if self._dead:
                raise WorkerStartError("the fork server is not running")
            self._next_id += 1
            request_id = self._next_id
            try:
                socket.send_fds(self._control, [json.dumps({**message, "id": request_id}).encode()], fds)
            except OSError as exc:
                raise WorkerStartError(f"the fork server is not reachable: {exc}") from None
            if not self._reply_ready.wait_for(
                lambda: request_id in self._replies or self._dead, SPAWN_TIMEOUT_S
            ):
                self._abandoned.add(request_id)  # its late reply's pidfds are closed on arrival
                raise WorkerStartError(f"the fork server did not fork within {SPAWN_TIMEOUT_S:g} s")
            if self._dead and request_id not in self._replies:
                raise WorkerStartError(f"the fork server died: {self._exit_report()}")
            return self._replies.pop(request_id)

    def prepare(self, policy: dict[str, Any]) -> None:
        """Have the fork server build a runner for ``policy``, for all the children it forks after."""
        with self._lock:
            if self._dead:
                return
            with contextlib.suppress(OSError):  # a dead server is noticed at the next spawn
                self._control.send(json.dumps({"t": "prepare", "policy": policy}).encode())

    def shutdown(self) -> None:
        """Stop the fork server; its children die with it."""
        self._stopping = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5.0)
        self._mark_dead()

    # --- internals ----------------------------------------------------------------------------------

    def _boot(self) -> None:
        child_program = seccomp_program(self.spec.network, "child") if self.spec.seccomp else None
        zygote_program = seccomp_program(self.spec.network, "zygote") if self.spec.seccomp else None
        boot = {
            "t": "boot",
            "seccomp": _b64(zygote_program),
            "child_seccomp": _b64(child_program),
            "test_hooks": self.spec.test_hooks,
            "tmp_size_mb": self.spec.tmp_size_mb,
            "preload": default_preload(),
        }
        self._control.send(json.dumps(boot).encode())
        self._control.settimeout(START_TIMEOUT_S)
        try:
            data = self._control.recv(_MAX_PACKET)
        except TimeoutError:
            raise ForkServerUnavailable(
                f"the fork server did not start within {START_TIMEOUT_S:g} s"
            ) from None
        finally:
            self._control.settimeout(None)
        if not data:
            self._proc.wait(5.0)
            raise ForkServerUnavailable(
                f"the fork server exited during start-up: {self._stderr_tail() or '-'}"
            )
        ready = json.loads(data)
        if ready.get("t") != "ready" or not ready.get("fork"):
            raise ForkServerUnavailable(
                f"the fork server cannot isolate its workers here: {ready.get('reason')}"
            )

    def _read_loop(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._control, _MAX_PACKET, MAX_BATCH)
            except OSError as exc:
                data, fds = b"", []
                if not self._stopping:
                    log.error("codeagent: lost the fork server's control channel: %s", exc)
            if not data:
                if not self._stopping:
                    log.warning("codeagent: the fork server stopped: %s", self._exit_report())
                break
            try:
                message = json.loads(data)
                kind = message["t"]
                if kind == "exited":
                    statuses = [(int(pid), int(status)) for pid, status in message["statuses"]]
                else:
                    request_id = int(message.get("id", -1))
            except (ValueError, KeyError, TypeError):
                log.error("codeagent: the fork server sent garbage: %r", data[:200])
                for fd in fds:
                    os.close(fd)
                continue
            with self._lock:
                if kind == "exited":
                    for pid, status in statuses:
                        control = self._children.pop(pid, None)
                        if control is not None:
                            control.set_exit(status)
                elif kind in ("spawned", "failed") and request_id not in self._abandoned:
                    self._replies[request_id] = (message, fds)
                    self._reply_ready.notify_all()
                else:
                    # Nobody waits for it (an abandoned request: its children see their pipes closed and
                    # exit by themselves), or not a reply at all.
                    self._abandoned.discard(request_id)
                    for fd in fds:
                        os.close(fd)
        self._mark_dead()

    def _mark_dead(self) -> None:
        with self._lock:
            self._dead = True
            children, self._children = list(self._children.values()), {}
            self._reply_ready.notify_all()
        for control in children:  # the kernel took them with the fork server (their pid 1)
            control.kill()
            control.set_exit(-signal.SIGKILL, "the worker's fork server stopped, and the worker with it")

    def _exit_report(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(1.0)
        return f"status {self._proc.returncode}: {self._stderr_tail() or '-'}"

    def _stderr_tail(self) -> str:
        stream = self._proc.stderr
        if stream is None:
            return ""
        # Non-blocking: a process of the sandbox may still hold the pipe open.
        with contextlib.suppress(OSError, ValueError):
            fd = stream.fileno()
            os.set_blocking(fd, False)
            data = os.read(fd, 1 << 16)
            return data.decode("utf-8", "replace").strip()[-2000:]
        return ""


#: Nice value of the sandbox's scheduling group (see `_lower_group_priority`).
SANDBOX_GROUP_NICE = 10


def _lower_group_priority(bwrap_pid: int) -> None:
    """Give the sandbox's scheduling group less weight than the host's, where groups are by session.

    With autogroup scheduling (the Linux default where processes are not in a cpu cgroup of their own)
    every session is a scheduling group with the weight of one nice-0 task: the fork server's sandbox
    (its session, with all its workers) would weigh as much as the host, whose event loop drives every
    run. Nice 10 for the sandbox's group keeps the host's loop responsive (~90 % of a contended CPU) while
    the sandboxes still get all the CPU it leaves. A no-op without autogroups (the file is absent or fixed).
    """
    with contextlib.suppress(OSError, ValueError):
        with open(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children", encoding="ascii") as f:
            children = [int(pid) for pid in f.read().split()]
        for pid in children:  # the zygote (bubblewrap's --new-session: a session, so a group, of its own)
            with open(f"/proc/{pid}/autogroup", "w", encoding="ascii") as f:
                f.write(str(SANDBOX_GROUP_NICE))


def _b64(program: bytes | None) -> str | None:
    return base64.b64encode(program).decode("ascii") if program else None


def _host_pid(pidfd: int) -> int:
    """The pid (in the host's pid namespace) a pidfd refers to, from /proc/self/fdinfo."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return -1
