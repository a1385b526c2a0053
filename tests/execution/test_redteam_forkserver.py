"""Red-team attacks between workers forked by the fork server (siblings of one shared sandbox).

Probe code runs *without* the language wall (as if it were already broken), in one sibling, against another
sibling of an unrelated run, the fork server, or the host.

Found and fixed:

* ``fcntl(fd, F_SETOWN | 1 << 32, pid)``: the kernel reads the command as 32 bits, the child filter compared
  all 64, so a sibling could still aim SIGIO at another one (its default action kills). Now compared masked.
* bubblewrap's init (pid 1, the fork server's parent) is dumpable and has no seccomp filter: through
  ``/proc/1/root`` or ``/proc/1/cwd`` siblings shared the sandbox's own writable /tmp, and ``/proc/1/fd/2``
  reopened the fork server's stderr pipe to the host (read or write). bubblewrap now runs the fork server
  as pid 1 (``--as-pid-1``): no init beside it, and the server is undumpable.
* ``/dev/pts`` was one devpts instance for all siblings: one sibling could open another's pty. Each child
  now mounts its own instance.
* ``SO_PASSCRED`` + ``sendto`` autobinds a unix datagram socket to an abstract address (listed in the shared
  ``/proc/net/unix``) that any sibling can ``sendto`` without bind or connect: a channel. Refused now.

Accepted (by design, or no worse than separate sandboxes):

* siblings see each other's pids, ``/proc/<pid>/cmdline``, ``status`` and the other entries without a ptrace
  check (``stat``, ``statm``, ``sched``, ``limits``, ``mountinfo``, fd numbers); so covert channels through
  those (comm, memory size, CPU time) remain. Writing them is refused only because /proc is read-only.
* they share the CPU and the sandbox's network namespace (no network; with ``network`` the host's).
* covert channels through the read-only host files bound into every sandbox (flock, fanotify, futex on a
  shared file mapping) exist between separate sandboxes too.
* per-user limits count all siblings together (one uid in one user namespace): RLIMIT_NPROC (threads, see
  ``limits._nproc_limit``; not enforced at all for a root host), RLIMIT_SIGPENDING (queued real-time
  signals, POSIX timers), inotify instances: a sibling can use up another's headroom there.
* siblings share the fork server's address-space layout and str hash secret (fork); neither helps without
  a way to feed another sibling data, which they have none. ``random`` is reseeded in each child.
* each child inherits the fork server's prepared runners: policies of other runs (limits, import lists),
  nothing secret.
* CapBnd still holds CAP_SYS_ADMIN, but without execve (refused, and no_new_privs) it cannot be regained.
"""

from __future__ import annotations

import asyncio
import os
import platform

import pytest

from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.worker.sandbox import sandbox_status

from .test_forkserver import two_siblings

STATUS = sandbox_status()
REQUIRED = os.environ.get("CODEAGENT_REQUIRE_SANDBOX") == "1"
pytestmark = pytest.mark.skipif(
    not STATUS.full and not REQUIRED, reason=f"bubblewrap and seccomp needed: {STATUS.reason}"
)
X86_64 = pytest.mark.skipif(platform.machine() != "x86_64", reason="raw x86_64 syscall numbers")

#: Probe helpers: "allowed", or the errno name of the OSError a call raised (``attempt``) or of a raw syscall
#: by number (``raw``).
HELPERS = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, type(exc).__name__)
def raw(number, *args):
    if libc.syscall(ctypes.c_long(number), *(ctypes.c_ulong(a) for a in args)) >= 0:
        return "allowed"
    return errno.errorcode[ctypes.get_errno()]
"""


async def alive(ex: SandboxedExecutor) -> bool:
    return bool(await ex._probe("result = True"))


@X86_64
async def test_sigio_owner_with_bit_32_set_cannot_signal_a_sibling():
    a, b = await two_siblings()
    try:
        pid_a = await a._probe("import os\nresult = os.getpid()")
        out = await b._probe(
            f"""{HELPERS}
import fcntl
r, w = os.pipe()
result = {{
    "setown": raw(72, r, (1 << 32) | fcntl.F_SETOWN, {pid_a}),
    "setown_ex": raw(72, r, (1 << 32) | 15, 0),
    "getown": fcntl.fcntl(r, fcntl.F_GETOWN),
}}
fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
os.write(w, b"x")  # SIGIO to the owner, if there were one
"""
        )
        assert out == {"setown": "EPERM", "setown_ex": "EPERM", "getown": 0}
        assert await alive(a)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_bubblewrap_init_is_no_way_into_the_shared_sandbox():
    a, b = await two_siblings()
    try:
        probe = f"""{HELPERS}
def write_shared_tmp():
    with open("/proc/1/root/tmp/from-a-sibling", "w") as f:
        f.write("x")
result = {{
    "shared_tmp": attempt(write_shared_tmp),
    "cwd": attempt(lambda: os.listdir("/proc/1/cwd")),
    "stderr_pipe_read": attempt(lambda: os.close(os.open("/proc/1/fd/2", os.O_RDONLY | os.O_NONBLOCK))),
    "stderr_pipe_write": attempt(lambda: os.close(os.open("/proc/1/fd/2", os.O_WRONLY))),
    "mem": attempt(lambda: os.close(os.open("/proc/1/mem", os.O_RDONLY))),
    "environ": attempt(lambda: os.close(os.open("/proc/1/environ", os.O_RDONLY))),
    "server_root": attempt(lambda: os.listdir("/proc/%d/root" % os.getppid())),
    "own_proc": attempt(lambda: os.listdir("/proc/self/fd")),
    "parent": os.getppid(),
    "pid_1": open("/proc/1/cmdline", "rb").read(),
}}
"""
        for ex in (a, b):
            out = await ex._probe(probe)
            assert out.pop("own_proc") == "allowed"
            # pid 1 is the fork server itself (bubblewrap runs it --as-pid-1): no bubblewrap init beside it,
            # and the server is undumpable, so its /proc entry is as closed as a sibling's.
            assert out.pop("parent") == 1 and b"worker.zygote" in out.pop("pid_1")
            assert set(out.values()) == {"EACCES"}, out
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_siblings_have_private_ptys():
    a, b = await two_siblings()
    try:
        # TIOCGPTN, TIOCSPTLCK: the pty's number, and unlock it so that its slave may be opened.
        names = await a._probe(
            """
import builtins, fcntl, os, struct
master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
number = struct.unpack("i", fcntl.ioctl(master, 0x80045430, b"\\0" * 4))[0]
fcntl.ioctl(master, 0x40045431, struct.pack("i", 0))
builtins.redteam_pty = master
result = sorted(os.listdir("/dev/pts"))
"""
        )
        assert "ptmx" in names and len(names) == 2
        out = await b._probe(
            f"""{HELPERS}
before = sorted(os.listdir("/dev/pts"))
opened = attempt(lambda: os.open("/dev/pts/0", os.O_RDWR | os.O_NOCTTY))
master, slave = os.openpty()  # our own still work
os.write(slave, b"ok")
result = {{"before": before, "opened": opened, "own": os.read(master, 2)}}
"""
        )
        assert out == {"before": ["ptmx"], "opened": "ENOENT", "own": b"ok"}
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_unix_sockets_cannot_autobind_an_address_for_siblings():
    a, b = await two_siblings()
    try:
        out = await a._probe(
            f"""{HELPERS}
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
passcred = attempt(lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1))
passpidfd = attempt(lambda: s.setsockopt(socket.SOL_SOCKET, 76, 1))
attempt(lambda: s.sendto(b"x", b"\\0codeagent-redteam-nobody"))
result = {{"passcred": passcred, "passpidfd": passpidfd, "name": s.getsockname()}}
"""
        )
        assert out == {"passcred": "EPERM", "passpidfd": "EPERM", "name": ""}
        seen_by_b = await b._probe(
            "result = [line.split()[-1] for line in open('/proc/net/unix').read().splitlines()[1:]"
            " if line.split()[-1].startswith('@')]"
        )
        assert seen_by_b == []
    finally:
        await asyncio.gather(a.close(), b.close())


@X86_64
async def test_other_ways_to_reach_a_sibling_or_the_server_are_refused():
    a, b = await two_siblings()
    try:
        pid_a = await a._probe("import os\nresult = os.getpid()")
        out = await b._probe(
            f"""{HELPERS}
import signal, struct
me, server = os.getpid(), os.getppid()
def open_last_fd(pid):  # the fd numbers are listed, the fds themselves must stay closed
    os.close(os.open("/proc/%d/fd/%s" % (pid, max(os.listdir("/proc/%d/fd" % pid), key=int)), os.O_RDONLY))
def write(path, data):
    with open(path, "w") as f:
        f.write(data)
# capset: raise CAP_SYS_ADMIN (bit 21) back from the bounding set.
header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))
data = ctypes.create_string_buffer(struct.pack("6I", 1 << 21, 1 << 21, 0, 0, 0, 0))
result = {{
    "kill_bit_32": raw(62, (1 << 32) | {pid_a}, 0),
    "tgkill_sibling_thread": raw(234, me, {pid_a}, 0),
    "rt_sigqueueinfo": raw(129, {pid_a}, 0, 0),
    "prlimit_bit_32": raw(302, (1 << 32) | {pid_a}, 0, 0, 0),
    "pidfd_getfd": raw(438, 0, 0, 0),
    "kcmp": raw(312, me, {pid_a}, 0, 0, 0),
    "ptrace_attach": raw(101, 16, {pid_a}, 0, 0),
    "process_vm_readv": raw(310, {pid_a}, 0, 0, 0, 0, 0),
    "unshare_user": raw(272, 0x10000000),
    "setns": raw(308, 0, 0),
    "open_tree": raw(428, 0, 0, 0),
    "fsopen": raw(430, 0, 0),
    "io_uring": raw(425, 1, 0),
    "keyctl": raw(250, 0, 0, 0, 0, 0),
    "capset_raise": raw(126, ctypes.addressof(header), ctypes.addressof(data)),
    "oom_score_adj": attempt(lambda: write("/proc/{pid_a}/oom_score_adj", "1000")),
    "timerslack": attempt(lambda: write("/proc/{pid_a}/timerslack_ns", "1")),
    "comm": attempt(lambda: write("/proc/{pid_a}/comm", "x")),
    "autogroup": attempt(lambda: write("/proc/{pid_a}/autogroup", "19")),
    "clear_refs": attempt(lambda: write("/proc/{pid_a}/clear_refs", "1")),
    "sibling_root": attempt(lambda: os.listdir("/proc/{pid_a}/root/tmp")),
    "sibling_fd": attempt(lambda: open_last_fd({pid_a})),
    "server_fd": attempt(lambda: open_last_fd(server)),
    "sibling_maps": attempt(lambda: open("/proc/{pid_a}/maps").read()),
    "setpgid_into_server": attempt(lambda: os.setpgid(0, server)),
    "own_session": attempt(os.setsid),
}}
"""
        )
        assert out == {
            "kill_bit_32": "EPERM",
            "tgkill_sibling_thread": "ESRCH",  # the kernel: not a thread of ours
            "rt_sigqueueinfo": "EPERM",
            "prlimit_bit_32": "EPERM",
            "pidfd_getfd": "EPERM",
            "kcmp": "EPERM",
            "ptrace_attach": "EPERM",
            "process_vm_readv": "EPERM",
            "unshare_user": "EPERM",
            "setns": "EPERM",
            "open_tree": "EPERM",
            "fsopen": "EPERM",
            "io_uring": "EPERM",
            "keyctl": "EPERM",
            "capset_raise": "EPERM",
            # /proc/<sibling> files are ours (undumpable: owned by the sandbox's root, host uid 0 = our uid
            # when the host runs as root): only the read-only /proc keeps them unwritable.
            "oom_score_adj": "EROFS",
            "timerslack": "EROFS",
            "comm": "EROFS",
            "autogroup": "EROFS",
            "clear_refs": "EROFS",
            "sibling_root": "EACCES",
            "sibling_fd": "EACCES",
            "server_fd": "EACCES",
            "sibling_maps": "EACCES",
            "setpgid_into_server": "EPERM",
            "own_session": "EPERM",
        }
        assert await alive(a)
    finally:
        await asyncio.gather(a.close(), b.close())
