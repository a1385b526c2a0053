"""Limits the worker puts on itself before running any action: rlimits and the seccomp filter.

Runs inside the worker (stdlib only). The seccomp program is compiled on the host (see
`codeagent.execution.worker.seccomp`) and only *loaded* here with ``prctl``, so the worker needs neither
libseccomp nor pyseccomp, just ctypes (about 2 ms to import, paid once at boot).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stubs) `signal` without its enum wrappers
import functools
import os
import resource
import signal
import sys
from typing import Any

MIB = 1024 * 1024

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_PR_SET_PDEATHSIG = 1


class _Native:
    """libc through ctypes, with the structures the calls below need; built once per process (in the fork
    server before it forks, so that a forked worker pays nothing for it)."""

    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)

        class SockFprog(ctypes.Structure):
            _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

        class CapHeader(ctypes.Structure):
            _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))

        class CapData(ctypes.Structure):
            _fields_ = (
                ("effective", ctypes.c_uint32),
                ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32),
            )

        self.SockFprog = SockFprog
        self.CapHeader = CapHeader
        self.CapData = CapData


@functools.cache
def native() -> _Native:
    return _Native()


def check(result: int, what: str) -> None:
    """Raise OSError (with errno) for a libc call that returned non-zero."""
    if result != 0:
        err = native().ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def seccomp_fprog(program: bytes) -> tuple[Any, Any]:
    """(buffer, ``struct sock_fprog``) for a compiled classic-BPF program; keep the buffer alive with it.

    The buffer may be patched in place before `install_seccomp` (the fork server's children write their pid).
    """
    if not program or len(program) % 8:
        raise ValueError("seccomp program must be a non-empty sequence of 8-byte BPF instructions")
    n = native()
    buf = n.ctypes.create_string_buffer(program, len(program))
    return buf, n.SockFprog(len(program) // 8, n.ctypes.cast(buf, n.ctypes.c_void_p))


def install_seccomp(fprog: Any) -> None:
    """Load a `seccomp_fprog` filter into this (single-threaded) process; irreversible."""
    n = native()
    # no_new_privs is required for an unprivileged filter (bubblewrap sets it already; the fallback does not).
    check(n.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    check(
        n.libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, n.ctypes.byref(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


def load_seccomp(program: bytes) -> None:
    """Install a compiled classic-BPF seccomp program for this (single-threaded) process; irreversible."""
    _buf, fprog = seccomp_fprog(program)
    install_seccomp(fprog)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent (the host's spawning thread) dies.

    bubblewrap does this itself (``--die-with-parent``); the fallback needs it, or a worker stuck in the
    code would outlive a crashed host. Exits at once if the parent is already gone.
    """
    if not sys.platform.startswith("linux"):  # prctl is Linux-only; elsewhere EOF on the pipe must do
        return
    native().libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(0)


def seccomp_mode() -> int:
    """The ``Seccomp:`` field of /proc/self/status (0 off, 2 filter), or -1 when unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Seccomp:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


@functools.cache
def _in_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map", "rb") as f:
            first = f.read().split()
    except OSError:
        return False
    # The initial namespace maps the whole range "0 0 4294967295".
    return first[:3] != [b"0", b"0", b"4294967295"]


def _nproc_limit(max_processes: int, shared: bool = False) -> int:
    """RLIMIT_NPROC counts every task of the *real uid*, not just ours.

    Inside a fresh user namespace (bubblewrap) on Linux >= 5.14 the count is per namespace, so
    ``max_processes`` is exact. A worker forked by the fork server shares its namespace with the server and
    its siblings: the limit is raised by the processes visible in the sandbox now (their threads are not
    counted, so a busy sibling can make it tighter, never looser). Elsewhere it would include the user's
    other processes, so the limit is raised by the number of tasks currently on the system (an upper bound
    of the user's own). Note that the kernel never enforces RLIMIT_NPROC for host uid 0; the seccomp
    filter, which refuses fork, is the real guard there.
    """
    if _in_user_namespace() and _kernel_version() >= (5, 14):
        if shared:
            return max_processes + sum(1 for name in os.listdir("/proc") if name.isdigit())  # noqa: PTH208
        return max_processes
    try:
        with open("/proc/loadavg", "rb") as f:
            total = int(f.read().split()[3].split(b"/")[1])
    except (OSError, ValueError, IndexError):
        total = 32768
    return total + max_processes


@functools.cache
def _kernel_version() -> tuple[int, int]:
    try:
        major, minor = (int(p) for p in os.uname().release.split(".")[:2])
    except ValueError:
        return 0, 0
    return major, minor


def warm_up() -> None:
    """Answer, once and before any fork, what every forked worker would otherwise find out itself."""
    _in_user_namespace()
    _kernel_version()


def _set(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _soft, cur_hard = resource.getrlimit(which)
    # We may only lower a hard limit; never try to raise one that is already lower.
    if cur_hard != resource.RLIM_INFINITY:
        hard = min(hard, cur_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def apply_rlimits(policy: dict[str, Any], shared_sandbox: bool = False) -> dict[str, int]:
    """Apply the OS-wall rlimits of an `ExecutionPolicy` (given as its dict); returns what was set.

    ``shared_sandbox``: this worker was forked by the fork server (see `_nproc_limit`).
    """
    memory = int(policy["memory_mb"]) * MIB
    cpu = int(policy["cpu_s"])
    fsize = int(policy["file_size_mb"]) * MIB
    nproc = _nproc_limit(int(policy["max_processes"]), shared_sandbox)
    applied = {"as": memory, "cpu": cpu, "fsize": fsize, "nproc": nproc, "nofile": 256, "core": 0}
    _set(resource.RLIMIT_AS, memory)
    # Soft CPU limit sends SIGXCPU (fatal by default, so the host sees it); the hard one is a backstop.
    _set(resource.RLIMIT_CPU, cpu, cpu + 2)
    _set(resource.RLIMIT_FSIZE, fsize)
    _set(resource.RLIMIT_NPROC, nproc)
    _set(resource.RLIMIT_NOFILE, 256)
    _set(resource.RLIMIT_CORE, 0)
    # Writing past RLIMIT_FSIZE should fail with OSError(EFBIG) that the code can see, not kill us.
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)  # `_signal`: no enum conversions
    return applied
