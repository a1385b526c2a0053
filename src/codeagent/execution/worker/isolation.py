"""How a worker forked by the fork server shuts itself off from its siblings (runs in the sandbox).

Siblings share the fork server's bubblewrap sandbox: its uid, pid and network namespaces. `ChildIsolation`
is prepared once in the fork server (paths, ctypes objects, the seccomp program and where its pid goes) and
applied by each child right after the fork, before it says ``ready``:

1. its own mount and IPC namespaces and a fresh size-capped tmpfs on ``/tmp`` (read-only binds that lay
   under the sandbox's /tmp, such as a checkout or virtualenv there, are bound back), and its own
   ``devpts`` instance (a shared one lets siblings open each other's ptys);
2. an empty capability set (the fork server keeps CAP_SYS_ADMIN of the sandbox's user namespace for step 1
   only), undumpable (its ``/proc/<pid>`` closed to siblings);
3. the ``"child"`` seccomp filter (`codeagent.execution.worker.seccomp`) with its own pid patched in.

Everything a child does here is a handful of syscalls on objects built before the fork: each Python object a
child touches costs it a copied page, and the fork server forks thousands of children.

Stdlib only.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from typing import Any

from codeagent.execution.worker.limits import MIB, check, install_seccomp, native, seccomp_fprog

#: Stand-in for "my pid" in the child seccomp program (positive, above any pid), patched by each child.
PID_SENTINEL = 0x3A5E7C01

_PR_SET_DUMPABLE = 4
_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_BPF_JMP_JEQ_K = 0x15
_INSN = struct.Struct("=HBBI")


def pid_offsets(program: bytes) -> list[int]:
    """Byte offsets of the ``k`` fields that hold `PID_SENTINEL` in a compiled BPF program.

    Only ``JEQ k`` instructions may hold it (libseccomp's code for ``arg == value``); anything else, or no
    occurrence at all, means the program is not what we compiled, and it is refused.
    """
    offsets: list[int] = []
    for offset in range(0, len(program), _INSN.size):
        code, _jt, _jf, k = _INSN.unpack_from(program, offset)
        if k == PID_SENTINEL:
            if code != _BPF_JMP_JEQ_K:
                raise ValueError(f"pid sentinel in an unexpected BPF instruction (code {code:#x})")
            offsets.append(offset + 4)
    if not offsets:
        raise ValueError("the child seccomp program has no pid comparison to patch")
    return offsets


def patch_pid(program: bytes, pid: int) -> bytes:
    """``program`` with `PID_SENTINEL` replaced by ``pid`` (see `pid_offsets`)."""
    out = bytearray(program)
    for offset in pid_offsets(program):
        out[offset : offset + 4] = pid.to_bytes(4, sys.byteorder)
    return bytes(out)


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
        if not any(point.startswith(outer.rstrip("/") + "/") for outer in outermost):
            outermost.append(point)
    return outermost


def set_undumpable() -> None:
    """No core dumps, and /proc/<pid> of this process closed to its siblings (same uid)."""
    check(native().libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


class ChildIsolation:
    """What a forked worker does to isolate itself, prepared in the fork server (see the module docstring).

    Args:
        tmp_size_mb: size cap of the child's /tmp.
        seccomp_program: the compiled ``"child"`` filter, or None to load none.

    Example:
        >>> isolation = ChildIsolation(64, None)  # doctest: +SKIP
        >>> if os.fork() == 0:  # doctest: +SKIP
        ...     isolation.apply()  # now in its own /tmp, without capabilities
    """

    def __init__(self, tmp_size_mb: int, seccomp_program: bytes | None) -> None:
        n = native()
        self._libc = n.libc
        # ctypes resolves a libc function on first use and caches it on the CDLL object: done here, in the
        # fork server, it is not redone (~40 page copies) by every child.
        for name in ("unshare", "mount", "capset", "prctl"):
            getattr(n.libc, name)
        self._byref = n.ctypes.byref
        self._tmp_options = f"size={int(tmp_size_mb) * MIB},mode=1777".encode()
        self._keep = [(path.encode(), _is_dir(path)) for path in mounts_under("/tmp")]
        self._devpts = os.path.ismount("/dev/pts")
        self._cap_header = n.CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        self._cap_data = (n.CapData * 2)()
        self._program: Any = None
        self._prog: Any = None
        self._pid_offsets: list[int] = []
        if seccomp_program is not None:
            self._program, self._prog = seccomp_fprog(seccomp_program)
            self._pid_offsets = pid_offsets(seccomp_program)

    def apply(self) -> None:
        """In the forked child: namespaces and /tmp, no capabilities, the seccomp filter. Irreversible."""
        libc = self._libc
        check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC), "unshare(CLONE_NEWNS|CLONE_NEWIPC)")
        check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount(/, MS_PRIVATE)")
        # Binds under /tmp are reached through fds opened before the new /tmp covers them.
        kept = [(path, is_dir, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path, is_dir in self._keep]
        check(
            libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, self._tmp_options), "mount /tmp"
        )
        for path, is_dir, fd in kept:
            if is_dir:
                os.makedirs(path, exist_ok=True)  # noqa: PTH103
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)  # noqa: PTH103, PTH120
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            # The bind keeps the original mount's flags, read-only included.
            check(
                libc.mount(b"/proc/self/fd/%d" % fd, path, None, _MS_BIND | _MS_REC, None), "bind under /tmp"
            )
            os.close(fd)
        os.chdir("/tmp")
        # A private pty instance (/dev/ptmx is bubblewrap's link to pts/ptmx).
        if self._devpts:
            options = b"newinstance,ptmxmode=0666,mode=0620"
            check(libc.mount(b"devpts", b"/dev/pts", b"devpts", _MS_NOSUID | _MS_NOEXEC, options), "devpts")
        # Empty effective, permitted and inheritable sets (and so the ambient one).
        check(libc.capset(self._byref(self._cap_header), self._byref(self._cap_data)), "capset")
        set_undumpable()
        if self._prog is not None:
            pid = os.getpid().to_bytes(4, sys.byteorder)
            for offset in self._pid_offsets:
                self._program[offset : offset + 4] = pid
            install_seccomp(self._prog)

    @property
    def seccomp_mode(self) -> int | None:
        """What /proc/self/status says after `apply` (2: filter), without reading it; None if unknown."""
        return 2 if self._prog is not None else None


def _is_dir(path: str) -> bool:
    return os.path.isdir(path)  # noqa: PTH112
