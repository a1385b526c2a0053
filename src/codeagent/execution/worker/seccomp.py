"""Seccomp filters of the OS wall, compiled on the host with pyseccomp/libseccomp (once per variant).

The worker only *loads* the compiled classic-BPF program (`codeagent.execution.worker.limits.load_seccomp`),
so it needs neither libseccomp nor pyseccomp. Default *allow*, with ``EPERM`` (errno, not kill, so the code
sees a readable ``PermissionError``) for:

* process creation (fork, vfork, clone without CLONE_THREAD, execve, execveat; clone3 gets ENOSYS so
  threads fall back to clone), ptrace and process_vm_*, mount and namespace calls, bpf, kexec, modules,
  keyctl, perf_event_open, userfaultfd, io_uring, TIOCSTI, and non-AF_UNIX sockets (unless network is
  allowed). This is the ``"worker"`` variant: a worker alone in its own sandbox.
* ``"child"``: a worker forked by the fork server (`codeagent.execution.worker.zygote`) shares its sandbox
  (uid, pid and network namespaces) with sibling workers of *other* runs. On top of the worker rules it
  may only signal itself (kill, tgkill, rt_*sigqueueinfo with its own pid; tkill, pidfd_open,
  pidfd_send_signal, and F_SETOWN / FIOSETOWN, which make I/O signal a chosen pid, refused), may not
  change another process's limits, scheduling or priority (prlimit64 and sched_set* only on pid 0 =
  itself; setpriority, ioprio_set, migrate_pages, move_pages, process_madvise refused), stays in the
  fork server's session and process group (setsid, setpgid refused), and, without
  network, may not bind, listen, accept or connect sockets, nor set SO_PASSCRED / SO_PASSPIDFD (which
  autobind one): abstract unix sockets would be a channel between siblings. Arguments the kernel reads
  as 32 bits (fcntl and ioctl commands, socket options) are compared masked, or setting bit 32 would
  slip past the rule. Its own pid is not known when the filter is compiled: the program compares
  against `PID_SENTINEL`, which the child replaces with its pid before loading
  (`codeagent.execution.worker.isolation.ChildIsolation`).
* ``"zygote"``: the fork server itself runs only codeagent's code, but gets the worker rules too, minus
  what it needs to fork and isolate children (fork, clone, unshare, mount); a child inherits this filter
  and stacks its own on top.
"""

from __future__ import annotations

import errno
import functools
import logging
import socket
import tempfile
from typing import Any, Literal

from codeagent.execution.worker.isolation import PID_SENTINEL

log = logging.getLogger("codeagent.execution.sandbox")

Variant = Literal["worker", "child", "zygote"]

DENIED_SYSCALLS = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "name_to_handle_at",
    "open_by_handle_at",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "iopl",
    "ioperm",
    "sethostname",
    "setdomainname",
    "pidfd_getfd",
    "kcmp",
)
#: What the fork server must still do: fork children and give each its own mount namespace and /tmp.
_ZYGOTE_NEEDS = ("fork", "vfork", "unshare", "mount")
#: Calls that act on *other* processes of the same uid and have no pid argument to restrict.
_CHILD_DENIED = (
    "tkill",
    "pidfd_open",
    "pidfd_send_signal",
    "setpriority",
    "ioprio_set",
    "migrate_pages",
    "move_pages",
    "process_madvise",
    "process_mrelease",
    # Siblings share the fork server's session (one scheduling group, niced by the host): a session of
    # its own would be a group of its own, with as much CPU as the host's. No process groups either.
    "setsid",
    "setpgid",
)
#: Calls whose first argument is a pid: allowed on the caller itself only.
_CHILD_OWN_PID = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
#: Calls whose first argument is a pid where 0 means the caller: allowed with 0 only.
_CHILD_PID_ZERO = (
    "prlimit64",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
)
_CHILD_NO_NETWORK = ("bind", "listen", "accept", "accept4", "connect")
#: fcntl F_SETOWN, F_SETOWN_EX; ioctl FIOSETOWN, SIOCSPGRP.
_F_SETOWN_COMMANDS = (8, 15)
_SETOWN_IOCTLS = (0x8901, 0x8902)
#: setsockopt(SOL_SOCKET, ...) SO_PASSCRED, SO_PASSPIDFD (76 on x86 and arm): autobind a unix socket.
_AUTOBIND_OPTIONS = (socket.SO_PASSCRED, getattr(socket, "SO_PASSPIDFD", 76))
_CLONE_THREAD = 0x00010000
_TIOCSTI = 0x5412


@functools.cache
def seccomp_program(network: bool, variant: Variant = "worker") -> bytes | None:
    """The compiled BPF filter (cached per variant), or None when pyseccomp/libseccomp is missing."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # OSError: pyseccomp present but libseccomp.so missing
        log.debug("seccomp unavailable: %s", exc)
        return None
    eperm = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(sc.ALLOW)
    try:
        # Binary-tree dispatch on the syscall number: every *allowed* syscall (the common case) then costs
        # ~log2(rules) BPF instructions instead of walking the whole deny list.
        flt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    except (OSError, ValueError, RuntimeError):
        pass
    denied = [n for n in DENIED_SYSCALLS if variant != "zygote" or n not in _ZYGOTE_NEEDS]
    if variant == "child":
        denied += _CHILD_DENIED
        if not network:
            denied += _CHILD_NO_NETWORK
    for name in denied:
        _add(flt, eperm, name)
    if variant != "zygote":
        # Threads (clone with CLONE_THREAD) are fine; new processes are not.
        flt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    if variant == "child":
        for name in _CHILD_OWN_PID:
            _add(flt, eperm, name, sc.Arg(0, sc.NE, PID_SENTINEL))
        for name in _CHILD_PID_ZERO:
            _add(flt, eperm, name, sc.Arg(0, sc.NE, 0))
        # Making a file send SIGIO/SIGURG to a pid of one's choice is also a way to signal a sibling. The
        # kernel reads the command as 32 bits: a plain EQ would let F_SETOWN | 1 << 32 through.
        for command in _F_SETOWN_COMMANDS:
            flt.add_rule(eperm, "fcntl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, command))
        if not network:
            # SO_PASSCRED / SO_PASSPIDFD make the next sendto autobind the socket to an abstract address that
            # siblings find in /proc/net/unix and can send to (no bind or connect needed): a channel.
            for option in _AUTOBIND_OPTIONS:
                flt.add_rule(
                    eperm,
                    "setsockopt",
                    sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, socket.SOL_SOCKET),
                    sc.Arg(2, sc.MASKED_EQ, 0xFFFFFFFF, option),
                )
        for request in _SETOWN_IOCTLS:
            flt.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    # clone3 passes its flags in memory that seccomp cannot read: ENOSYS makes glibc fall back to clone.
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    flt.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
    if not network:
        flt.add_rule(eperm, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    with tempfile.TemporaryFile() as tmp:
        flt.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()


def _add(flt: Any, action: Any, name: str, *args: Any) -> None:
    try:
        flt.add_rule(action, name, *args)
    except (OSError, ValueError, RuntimeError):
        pass  # syscall unknown on this architecture / libseccomp version
