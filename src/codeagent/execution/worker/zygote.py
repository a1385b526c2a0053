"""The fork server ("zygote"): one sandbox that forks a fresh, isolated worker per executor in ~3.5 ms.

Starting a worker costs ~50–60 ms of CPU, nearly all of it Python importing the worker's modules; bubblewrap
itself is a few ms. The zygote pays that once: it runs inside a bubblewrap sandbox like any worker (same
namespaces, read-only binds, uid 65534, no network), as that sandbox's pid 1 (``--as-pid-1``: when it
exits, the kernel kills every worker), imports everything a worker needs, and then forks one child per
worker the host asks for. Each child, before it runs anything from the host:

1. takes its protocol pipes and stderr (passed by the host with SCM_RIGHTS) and closes any sibling's;
   it stays in the zygote's session, which has no controlling terminal (bubblewrap's ``--new-session``),
   and dies with the zygote (the sandbox's pid 1; were it not, by ``PR_SET_PDEATHSIG``);
2. isolates itself (`codeagent.execution.worker.isolation`): its own mount and IPC namespaces, a fresh
   size-capped tmpfs on ``/tmp`` and its own devpts (siblings never see each other's files or ptys), no
   capabilities (the zygote keeps CAP_SYS_ADMIN of the sandbox's user namespace for this step only;
   bubblewrap's ``--disable-userns`` still forbids nested namespaces), undumpable (its ``/proc/<pid>`` is
   closed to siblings), and the ``"child"`` seccomp filter with its own pid patched in (see
   `codeagent.execution.worker.seccomp`): it may signal, re-limit or re-schedule itself only, and has no
   sockets to reach a sibling;
3. says ``ready`` on its own pipe and serves the ordinary worker protocol (`codeagent.execution.worker.main`).

Control channel (host <-> zygote): a SOCK_SEQPACKET socket on fd 0, one JSON object per packet::

    host -> zygote   boot  {seccomp, child_seccomp (base64 | null), test_hooks, tmp_size_mb, preload}
                     spawn {id, n} + fds [stdin, stdout, stderr of child 1, ..., of child n]
                     prepare {policy}      build a runner for this policy now; children get it ready-made
    zygote -> host   ready   {pid, fork: bool, reason}         after boot (a trial child was forked)
                     spawned {id, pids, message?} + fds [pidfd per pid]   fewer pids than asked: message
                     failed  {id, message}                      says why; the host kills with the pidfds
                     exited  {statuses: [[pid, status], ...]}   status as Popen.returncode (-N = signal N)

What a child costs is mostly the pages it writes: each is copied for it (~3 µs a page on this VM), and a
Python child writes some 500–700. Hence:

- children are forked in batches (``n`` ≤ `MAX_BATCH`), back to back: every fork write-protects all of
  the zygote's pages, so whatever the zygote touches between two forks is copied again; a loop of bare
  forks touches ~20 pages per child where a round trip per child touched ~130 (~0.4 ms of CPU a child);
- a bare fork(2) where the zygote is single-threaded (`Zygote.fork`), and the child's ``ready`` message,
  parsed policies and language-wall runners prepared before the fork;
- before its first fork the zygote plays whole worker lives in itself (`codeagent.execution.worker.main.
  rehearse`), so that CPython's warm-up writes into code objects are not repeated in every child.

Scheduling: the zygote, and so every child, is ``SCHED_BATCH`` (a waking worker never preempts the host's
event loop), and the host lowers the priority of the zygote's session (`forkserver._lower_group_priority`):
where the kernel schedules sessions as groups (autogroup), all sandboxes together then weigh less than the
host, whose one event loop drives every agent. (A session per child, as before, made 64 groups against the
host's one: its loop was preempted ~640 times in a 164-task benchmark run, ~0.3 ms at each pipe write.)

Stdlib only, like the worker.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stubs) `signal` without its enum wrappers
import binascii
import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
from typing import Any

from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.execution.worker import limits
from codeagent.execution.worker.isolation import ChildIsolation, set_undumpable
from codeagent.execution.worker.main import (
    RunnerTemplate,
    Worker,
    make_runner_template,
    policy_key,
    preload_runners,
    rehearse,
    serve_and_exit,
)
from codeagent.execution.worker.protocol import HEADER, encode_message, write_all

#: Largest control packet (they are tiny JSON objects).
_MAX_PACKET = 1 << 16
#: Runner templates kept at most (one per policy announced by the host; oldest dropped).
MAX_TEMPLATES = 8
#: Exit status of a trial or worker child whose isolation failed (before any code ran).
EXIT_ISOLATION = 88
#: Children forked per spawn request at most (3 fds each in one packet; the kernel passes <= 253).
MAX_BATCH = 64


class Zygote:
    """The fork server's loop: spawn requests in, children and their exit statuses out."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.control_fd = control.fileno()
        self.is_pid_1 = os.getpid() == 1
        #: libc's fork through ctypes.PyDLL (the GIL stays held); None where it cannot be had.
        self.bare_fork: Any = None
        #: A child's ``ready`` message, encoded once here up to its pid.
        self.ready_head = b""
        self.isolation: ChildIsolation | None = None
        self.test_hooks = False
        #: Parsed policies and unused runners, by policy (see `prepare`); each child inherits them all, takes
        #: one, drops the rest.
        self.templates: dict[str, RunnerTemplate] = {}
        self.children: set[int] = set()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.control, [data], fds)
        else:
            self.control.send(data)

    def boot(self) -> None:
        data = self.control.recv(_MAX_PACKET)
        message = json.loads(data)
        if message.get("t") != "boot":
            raise RuntimeError(f"expected boot, got {message.get('t')!r}")
        self.test_hooks = bool(message.get("test_hooks"))
        child = message.get("child_seccomp")
        # Refuses, now, a program without the pid comparisons it must have.
        program = binascii.a2b_base64(child) if child else None
        self.isolation = ChildIsolation(int(message["tmp_size_mb"]), program)
        preload(list(message.get("preload") or ()))
        # Inherited by every child: a worker woken by the host's message does not preempt the host.
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        # Signals before seccomp: the handler must exist when the zygote's own filter is in place.
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        program = message.get("seccomp")
        if program:
            limits.load_seccomp(binascii.a2b_base64(program))
        set_undumpable()
        n = limits.native()
        with contextlib.suppress(AttributeError, OSError):
            self.bare_fork = n.ctypes.PyDLL(None, use_errno=True).fork
            self.bare_fork.restype = n.ctypes.c_int
            self.bare_fork.argtypes = ()
        ready = Worker(-1, -1, shared_sandbox=True).ready_message(self.isolation.seccomp_mode)
        ready.pop("pid")
        self.ready_head = encode_message(ready)[HEADER.size : -1] + b',"pid":'
        try:
            rehearse([ExecutionPolicy().to_dict(), ExecutionPolicy(language_wall=False).to_dict()])
        except Exception as exc:  # only speed depends on it: say so, and go on
            os.write(2, f"codeagent fork server: rehearsal failed: {type(exc).__name__}: {exc}\n".encode())
        gc.collect()
        ok, reason = self.trial_fork()
        # Objects alive now are shared with every child; frozen, the children's GC never touches (and so
        # never copies) their pages.
        gc.freeze()
        self.send({"t": "ready", "pid": os.getpid(), "fork": ok, "reason": reason})

    def trial_fork(self) -> tuple[bool, str]:
        """Fork a child that isolates itself and exits: can children be made here at all?"""
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                assert self.isolation is not None
                self.isolation.apply()
            except BaseException as exc:
                os.write(wfd, f"{type(exc).__name__}: {exc}".encode()[:1000])
                os._exit(EXIT_ISOLATION)
            os._exit(0)
        os.close(wfd)
        reason = b""
        while chunk := os.read(rfd, 1000):
            reason += chunk
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            return False, reason.decode(errors="replace") or f"the trial child exited with status {code}"
        return True, ""

    def serve(self) -> None:
        while True:
            readable, _, _ = select.select([self.control.fileno(), self.wake_r], [], [])
            if self.wake_r in readable:
                os.read(self.wake_r, 4096)
                self.reap()
            if self.control.fileno() in readable:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(self.control, _MAX_PACKET, 3 * MAX_BATCH)
                except InterruptedError:
                    continue
                if not data:
                    return  # the host closed the channel: children die with us (we are pid 1)
                self.on_message(json.loads(data), fds)

    def on_message(self, message: dict[str, Any], fds: list[int]) -> None:
        if message.get("t") == "prepare" and not fds:
            self.prepare(message.get("policy"))
            return
        count = len(fds) // 3
        if message.get("t") != "spawn" or message.get("n") != count or not 0 < count <= MAX_BATCH:
            for fd in fds:
                os.close(fd)
            self.send({"t": "failed", "id": message.get("id"), "message": "malformed spawn request"})
            return
        self.spawn(message.get("id"), fds)

    def spawn(self, request_id: Any, fds: list[int]) -> None:
        """Fork one child per 3 fds, back to back (see the module docstring), then report them."""
        pids: list[int] = []
        problem = ""
        bare = self.bare_fork is not None and len(os.listdir("/proc/self/task")) == 1  # noqa: PTH208
        for index in range(len(fds) // 3):
            try:
                pid = self.fork(bare)
            except OSError as exc:
                problem = f"fork failed: {exc}"
                break
            if pid == 0:
                self.become_worker(fds, index, bare)  # never returns
            pids.append(pid)
        for fd in fds:
            os.close(fd)
        self.children.update(pids)
        # Opened after the forks, so that no child inherits a sibling's pidfd.
        reported: list[int] = []
        pidfds: list[int] = []
        for pid in pids:
            try:
                pidfds.append(os.pidfd_open(pid))
            except OSError as exc:  # no fd left, say: the host could not kill it, so it must not live
                os.kill(pid, signal.SIGKILL)
                problem = f"pidfd_open failed: {exc}"
                continue
            reported.append(pid)
        reply: dict[str, Any] = {"t": "spawned", "id": request_id, "pids": reported}
        if problem:
            reply["message"] = problem
        try:
            self.send(reply, pidfds)
        finally:
            for pidfd in pidfds:
                os.close(pidfd)

    def fork(self, bare: bool) -> int:
        """fork(2); ``bare``: without CPython's own fork work, for a single-threaded zygote.

        `os.fork` re-creates the GIL and the runtime's locks in the child and runs every module's at-fork
        hooks: care for locks that *other threads* held at the fork. With one thread there are none; a
        bare fork(2), made with the GIL held (ctypes.PyDLL), leaves ~85 fewer pages for each child to copy
        (~0.3 ms). `after_bare_fork` does in the child the one hook with a visible effect.
        """
        if not bare or self.bare_fork is None:
            return os.fork()
        pid: int = self.bare_fork()
        if pid < 0:
            errno = limits.native().ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return pid

    @staticmethod
    def after_bare_fork() -> None:
        """In a child of a bare fork: what `os.fork`'s at-fork hooks would do that matters here."""
        random = sys.modules.get("random")
        if random is not None:
            random.seed()  # siblings must not share one random stream

    def prepare(self, policy: Any) -> None:
        """Parse ``policy`` and build its runner now, so that children get them ready-made."""
        if not isinstance(policy, dict):
            return
        key = policy_key(policy)
        if key in self.templates:
            return
        try:
            template = make_runner_template(policy)
        except Exception:  # a policy the worker would refuse at init: it says why there
            return
        if len(self.templates) >= MAX_TEMPLATES:
            self.templates.pop(next(iter(self.templates)))
        self.templates[key] = template
        gc.freeze()  # like everything built before the first fork (see `boot`)

    def reap(self) -> None:
        statuses: list[tuple[int, int]] = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            self.children.discard(pid)
            statuses.append((pid, os.waitstatus_to_exitcode(status)))
        for start in range(0, len(statuses), 1024):  # ~20 bytes each: well within a packet
            self.send({"t": "exited", "statuses": statuses[start : start + 1024]})

    def become_worker(self, fds: list[int], index: int, bare_fork: bool) -> None:
        """In the child: isolate, then serve the worker protocol on pipes ``fds[3*index:3*index+3]`` (see
        the module docstring); a sibling's pipes are closed first."""
        status = EXIT_ISOLATION
        try:
            rfd, wfd, efd = fds[3 * index : 3 * index + 3]
            for fd in fds[: 3 * index] + fds[3 * index + 3 :]:
                os.close(fd)
            # `_signal`, not `signal`: the latter's enum conversions alone touch ~50 pages (see MAX_BATCH).
            _signal.set_wakeup_fd(-1)
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            for fd in (self.control_fd, self.wake_r, self.wake_w):  # the socket object is never used here
                os.close(fd)
            os.dup2(efd, 2)
            os.close(efd)
            if not self.is_pid_1:  # else the kernel kills the sandbox's processes when the zygote exits
                limits.die_with_parent(os.getppid())
            if bare_fork:
                self.after_bare_fork()
            assert self.isolation is not None
            self.isolation.apply()
            worker = Worker(rfd, wfd, shared_sandbox=True)
            worker.test_hooks = self.test_hooks
            worker.runner_templates = self.templates
            body = self.ready_head + b"%d}" % os.getpid()
            write_all(wfd, HEADER.pack(len(body)) + body)
        except BaseException as exc:
            try:
                os.write(2, f"codeagent fork server: the worker could not isolate itself: {exc}\n".encode())
            finally:
                os._exit(status)
        serve_and_exit(worker)


def preload(modules: list[str]) -> None:
    """Import modules the code is likely to use, so that every child finds them imported already."""
    for name in modules:
        if name.endswith(".*") or name == "*":
            name = name[:-2]
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module only costs its import later
            continue


def default_preload() -> list[str]:
    return [name for name in DEFAULT_AUTHORIZED_IMPORTS if name.split(".")[0] in sys.stdlib_module_names]


def main() -> None:
    """Zygote entry point (the bootstrap one-liner of `codeagent.execution.worker.forkserver`)."""
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    preload_runners()
    limits.native()  # ctypes and libc, for every child: load them once, here
    limits.warm_up()

    zygote = Zygote(control)
    try:
        zygote.boot()
        zygote.serve()
    except (OSError, ValueError, RuntimeError) as exc:
        os.write(2, f"codeagent fork server failed: {type(exc).__name__}: {exc}\n".encode())
        os._exit(1)
    os._exit(0)
