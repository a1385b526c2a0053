"""Limits the worker puts on itself before running any action: rlimits, the seccomp filter, and (for a
worker forked by the fork server) its own mount namespace, /tmp and an empty capability set.

Runs inside the worker (stdlib only). The seccomp program is compiled on the host (see
`codeagent.execution.worker.seccomp`) and only *loaded* here with ``prctl``, so the worker needs neither
libseccomp nor pyseccomp, just ctypes (about 2 ms to import, paid once at boot).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import sys
from typing import Any

MIB = 1024 * 1024

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REC = 0x4000
_MS_BIND = 0x1000
_MS_PRIVATE = 1 << 18
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_BPF_JMP_JEQ_K = 0x15

#: Stand-in for "my pid" in the child seccomp program, replaced by `patch_pid` (positive, > any pid).
PID_SENTINEL = 0x3A5E7C01


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


_native_instance: _Native | None = None


def native() -> _Native:
    global _native_instance
    if _native_instance is None:
        _native_instance = _Native()
    return _native_instance


def _check(result: int, what: str) -> None:
    if result != 0:
        err = native().ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class PidPatchedProgram:
    """The child seccomp program, ready to have `PID_SENTINEL` replaced by a pid (`for_pid`).

    Only ``JEQ k`` instructions may hold the sentinel (libseccomp's code for ``arg == value``); anything
    else, or no occurrence at all, means the program is not what we compiled, and it is refused here,
    once, in the fork server. Each child then only writes its pid at the known offsets.
    """

    def __init__(self, program: bytes) -> None:
        import struct

        self._insn = struct.Struct("=HBBI")
        self.program = program
        self.offsets: list[int] = []
        for offset in range(0, len(program), self._insn.size):
            code, _jt, _jf, k = self._insn.unpack_from(program, offset)
            if k == PID_SENTINEL:
                if code != _BPF_JMP_JEQ_K:
                    raise ValueError(f"pid sentinel in an unexpected BPF instruction (code {code:#x})")
                self.offsets.append(offset)
        if not self.offsets:
            raise ValueError("the child seccomp program has no pid comparison to patch")

    def for_pid(self, pid: int) -> bytes:
        out = bytearray(self.program)
        for offset in self.offsets:
            code, jt, jf, _k = self._insn.unpack_from(out, offset)
            self._insn.pack_into(out, offset, code, jt, jf, pid)
        return bytes(out)


def patch_pid(program: bytes, pid: int) -> bytes:
    """The child seccomp program with `PID_SENTINEL` replaced by ``pid`` (see `PidPatchedProgram`)."""
    return PidPatchedProgram(program).for_pid(pid)


def mounts_under(directory: str) -> list[str]:
    """Mount points strictly below ``directory`` (outermost only), from /proc/self/mountinfo."""
    prefix = directory.rstrip("/") + "/"
    points: list[str] = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            raw = line.split()[4].decode("utf-8", "surrogateescape")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)
            if point.startswith(prefix):
                points.append(point)
    points.sort()
    outermost: list[str] = []
    for point in points:
        if not any(point.startswith(outer.rstrip("/") + "/") or point == outer for outer in outermost):
            outermost.append(point)
    return outermost


def isolate_child(tmp_size_mb: int, keep: list[str] | tuple[str, ...] = ()) -> None:
    """Give this forked worker its own mount and IPC namespaces and a fresh, size-capped /tmp.

    ``keep``: mount points under /tmp (read-only binds of a checkout or virtualenv that lives there) that
    the new /tmp must show again: each is bound back from an fd opened before /tmp was covered.

    Needs CAP_SYS_ADMIN in the sandbox's user namespace (the fork server keeps it for this; see
    `drop_capabilities`). Mount events are made private first so the new /tmp never reaches the parent.
    """
    libc = native().libc
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC), "unshare(CLONE_NEWNS|CLONE_NEWIPC)")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount(/, MS_PRIVATE)")
    kept = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in keep]
    options = f"size={int(tmp_size_mb) * MIB},mode=1777".encode()
    flags = _MS_NOSUID | _MS_NODEV
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", flags, options), "mount(tmpfs, /tmp)")
    # os.path, not pathlib: this runs in every forked worker, and each extra module touched costs faults.
    for path, fd in kept:
        source = f"/proc/self/fd/{fd}"
        if os.path.isdir(source):  # noqa: PTH112
            os.makedirs(path, exist_ok=True)  # noqa: PTH103
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)  # noqa: PTH103, PTH120
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        # The bind keeps the original mount's flags, read-only included.
        _check(libc.mount(source.encode(), path.encode(), None, _MS_BIND | _MS_REC, None), f"bind {path}")
        os.close(fd)
    os.chdir("/tmp")


def drop_capabilities() -> None:
    """Empty this process's effective, permitted, inheritable (and so ambient) capability sets."""
    n = native()
    header = n.CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (n.CapData * 2)()
    _check(n.libc.capset(n.ctypes.byref(header), n.ctypes.byref(data)), "capset")


def set_undumpable() -> None:
    """No core dumps, and /proc/<pid> of this process closed to its siblings (same uid)."""
    _check(native().libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def load_seccomp(program: bytes) -> None:
    """Install a compiled classic-BPF seccomp program for this (single-threaded) process; irreversible."""
    if not program or len(program) % 8:
        raise ValueError("seccomp program must be a non-empty sequence of 8-byte BPF instructions")
    n = native()
    buf = n.ctypes.create_string_buffer(program, len(program))
    prog = n.SockFprog(len(program) // 8, n.ctypes.cast(buf, n.ctypes.c_void_p))
    # no_new_privs is required for an unprivileged filter (bubblewrap sets it already; the fallback does not).
    _check(n.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(
        n.libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, n.ctypes.byref(prog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


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
    of the user's own). Note that the
    kernel never enforces RLIMIT_NPROC for host uid 0; the seccomp filter, which refuses fork, is the real
    guard there.
    """
    try:
        major, minor = (int(p) for p in os.uname().release.split(".")[:2])
    except ValueError:
        major, minor = 0, 0
    if _in_user_namespace() and (major, minor) >= (5, 14):
        if shared:
            return max_processes + sum(1 for name in os.listdir("/proc") if name.isdigit())  # noqa: PTH208
        return max_processes
    try:
        with open("/proc/loadavg", "rb") as f:
            total = int(f.read().split()[3].split(b"/")[1])
    except (OSError, ValueError, IndexError):
        total = 32768
    return total + max_processes


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
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return applied
