"""The OS wall, checked from inside the real worker.

These checks run *trusted* probe code in the sandboxed worker through a test-only hook
(`SandboxedExecutor(_test_hooks=True)._probe`), which skips the language wall on purpose: the OS wall must
hold on its own, as if the language wall had been bypassed. The probe runs in the same process, namespaces,
rlimits and seccomp filter as model code.

bubblewrap-specific tests skip when bubblewrap cannot run here, unless CODEAGENT_REQUIRE_SANDBOX=1 (set it
in CI), in which case they fail.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor, SandboxUnavailable
from codeagent.execution.worker import sandbox
from codeagent.execution.worker.sandbox import SandboxStatus, sandbox_status

#: This checkout, wherever CI cloned it: only the package dir (and the venv) are bound into the sandbox.
REPO = Path(__file__).resolve().parents[2]
REPO_TOP = "/" + REPO.parts[1]  # e.g. /work, or /tmp for a clone there
#: Mount points the binds create in the sandbox's /tmp when the checkout lives under /tmp.
TMP_MOUNT_POINTS = [REPO.parts[2]] if REPO_TOP == "/tmp" else []

STATUS = sandbox_status()
REQUIRED = os.environ.get("CODEAGENT_REQUIRE_SANDBOX") == "1"
needs_bwrap = pytest.mark.skipif(
    STATUS.bwrap is None and not REQUIRED, reason=f"bubblewrap unavailable: {STATUS.reason}"
)
needs_seccomp = pytest.mark.skipif(
    not STATUS.seccomp and not REQUIRED, reason="pyseccomp/libseccomp unavailable"
)

POLICY = ExecutionPolicy(timeout_s=10)


async def probe(code: str, **kwargs):
    async with SandboxedExecutor(POLICY, _test_hooks=True, **kwargs) as ex:
        return await ex._probe(code)


def test_required_sandbox_is_available_in_ci():
    if REQUIRED:
        assert STATUS.full, STATUS.reason


@needs_bwrap
async def test_runs_as_nobody_without_capabilities():
    out = await probe(
        "import os\n"
        "status = open('/proc/self/status').read()\n"
        "fields = dict(l.split(':', 1) for l in status.splitlines())\n"
        "result = (os.getuid(), os.getgid(), fields['CapEff'].strip(), fields['NoNewPrivs'].strip(),"
        " os.uname().nodename)\n",
        bubblewrap=True,
    )
    assert out == (65534, 65534, "0000000000000000", "1", "sandbox")


@needs_bwrap
async def test_filesystem_is_minimal_and_read_only():
    out = await probe(
        """
import os
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__
def write(path):
    with open(path, "w") as f:
        f.write("x")
result = {
    "root": sorted(os.listdir("/")),
    "home": os.path.exists("/home"),
    "work": sorted(os.listdir("@REPO_TOP@")),
    "repo_file": attempt(lambda: open("@REPO_FILE@").read()),
    "etc": sorted(os.listdir("/etc")),
    "root_home": sorted(os.listdir("/root")),
    "write_usr": attempt(lambda: write("/usr/evil")),
    "write_root": attempt(lambda: write("/evil")),
    "write_dev": attempt(lambda: write("/dev/evil")),
    "write_devnull": attempt(lambda: write("/dev/null")),
    "write_pkg": attempt(lambda: write(os.path.dirname(os.__file__) + "/evil.py")),
    "write_tmp": attempt(lambda: write("/tmp/fine")),
    "cwd": os.getcwd(),
    "procs": [open(f"/proc/{p}/cmdline", "rb").read() for p in os.listdir("/proc") if p.isdigit()],
}
""".replace("@REPO_TOP@", REPO_TOP).replace("@REPO_FILE@", str(REPO / "pyproject.toml")),
        bubblewrap=True,
    )
    assert "home" not in out["root"] and not out["home"]
    # Only the codeagent package's directory is visible under the checkout's top dir (an editable install).
    assert out["work"] in ([], [REPO.parts[2]])
    assert out["repo_file"] == "FileNotFoundError"
    assert set(out["etc"]) <= {"ld.so.cache", "localtime"}
    assert out["root_home"] in ([], [".pyenv"])  # only the interpreter prefix when it lives under /root
    assert out["write_usr"] in ("OSError", "PermissionError")  # EROFS / EACCES
    assert out["write_root"] == out["write_dev"] == "OSError"  # uncapped tmpfs mounts are read-only
    assert out["write_devnull"] == "ok"
    assert out["write_pkg"] in ("OSError", "PermissionError")
    assert out["write_tmp"] == "ok" and out["cwd"] == "/tmp"
    # Own pid namespace: bubblewrap's init, the fork server and its workers, nothing of the host.
    assert all(c.startswith(b"bwrap") or b"codeagent.execution.worker" in c for c in out["procs"])


@needs_bwrap
async def test_tmp_is_private_per_worker():
    async with SandboxedExecutor(POLICY, _test_hooks=True, bubblewrap=True) as ex:
        await ex._probe("open('/tmp/secret', 'w').write('mine')")
        assert await ex._probe("import os; result = sorted(os.listdir('/tmp'))") == sorted(
            ["secret", *TMP_MOUNT_POINTS]
        )
    assert await probe("import os; result = os.listdir('/tmp')", bubblewrap=True) == TMP_MOUNT_POINTS


@needs_bwrap
async def test_private_tmp_has_a_size_cap():
    policy = ExecutionPolicy(timeout_s=10, file_size_mb=4)  # files <= 4 MiB, /tmp <= 16 MiB
    async with SandboxedExecutor(policy, _test_hooks=True, bubblewrap=True) as ex:
        out = await ex._probe(
            "import errno\n"
            "result = None\n"
            "for i in range(10):\n"
            "    try:\n"
            "        with open(f'/tmp/f{i}', 'wb') as f:\n"
            "            f.write(b'x' * (4 * 2**20 - 1))\n"
            "    except OSError as e:\n"
            "        result = (i, e.errno)\n"
            "        break\n"
        )
    import errno

    assert out is not None and out[1] == errno.ENOSPC and out[0] <= 4


@needs_bwrap
async def test_no_network_even_without_seccomp():
    out = await probe(
        """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect(("1.1.1.1", 53))
    s.send(b"x")
    result = "connected"
except OSError as exc:
    result = exc.errno
""",
        bubblewrap=True,
        seccomp=False,
    )
    import errno

    assert out in (errno.ENETUNREACH, errno.EHOSTUNREACH)


@needs_seccomp
@pytest.mark.parametrize(
    "code",
    [
        "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
        "import os; os.fork()",
        "import subprocess; subprocess.run(['/bin/true'])",
        "import os; os.execv('/bin/true', ['true'])",
        "import os; os.unshare(os.CLONE_NEWUSER) if hasattr(os, 'unshare') else os.fork()",
    ],
    ids=["inet", "inet6", "fork", "subprocess", "exec", "unshare"],
)
async def test_seccomp_refuses_network_and_process_creation(code):
    out = await probe(
        f"try:\n    {code}\n    result = 'allowed'\nexcept OSError as exc:\n    result = type(exc).__name__",
    )
    assert out == "PermissionError"


@needs_seccomp
async def test_seccomp_keeps_threads_and_unix_sockets_working():
    out = await probe(
        """
import socket, threading, os
a, b = socket.socketpair()
a.send(b"ping")
box = []
t = threading.Thread(target=lambda: box.append(b.recv(4)))
t.start(); t.join()
mode = [l for l in open('/proc/self/status').read().splitlines() if l.startswith('Seccomp:')][0]
result = (box, mode.split()[1])
""",
    )
    assert out == ([b"ping"], "2")


async def test_fallback_without_bubblewrap_still_limits_and_filters(caplog, monkeypatch):
    # Pretend bubblewrap is missing: plain subprocess + rlimits (+ seccomp) and a warning.
    monkeypatch.setattr(sandbox, "_warned", False)
    fake = SandboxStatus(bwrap=None, seccomp=STATUS.seccomp, reason="bubblewrap (bwrap) is not installed")
    monkeypatch.setattr("codeagent.execution.sandboxed.sandbox_status", lambda: fake)
    with caplog.at_level(logging.WARNING, logger="codeagent.execution.sandbox"):
        async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
            assert (await ex.run("x = 6 * 7\nprint(x)")).logs == "42\n"
            limits = await ex._probe(
                "import resource; result = resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20"
            )
            assert ex.sandbox["bubblewrap"] is False
    assert limits == POLICY.memory_mb
    assert "WITHOUT the bubblewrap sandbox" in caplog.text


async def test_require_sandbox_raises_clear_error(monkeypatch):
    fake = SandboxStatus(bwrap=None, seccomp=False, reason="bubblewrap (bwrap) is not installed")
    monkeypatch.setattr("codeagent.execution.sandboxed.sandbox_status", lambda: fake)
    ex = SandboxedExecutor(POLICY, require_sandbox=True)
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        await ex.run("1")
    await ex.close()


async def test_rlimits_are_applied_from_policy():
    policy = ExecutionPolicy(memory_mb=300, cpu_s=7, file_size_mb=3, timeout_s=10)
    async with SandboxedExecutor(policy, _test_hooks=True) as ex:
        out = await ex._probe(
            "import resource as r\n"
            "result = [r.getrlimit(x)[0] for x in (r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_CORE)]"
        )
    assert out == [300 * 2**20, 7, 3 * 2**20, 0]


async def test_protocol_pipe_is_not_stdout():
    # C-level writes to fd 1/2 (bypassing sys.stdout) must not corrupt the framing.
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        await ex._probe("import os; os.write(1, b'\\x00\\x00\\x00\\x05junk' * 100)")
        result = await ex.run("y = 5\nfinal_answer(y)")
    assert result.ok and result.value == 5


async def test_stderr_flood_does_not_block_the_worker():
    # Nobody drains the worker's stderr after start-up; writes there must not fill a pipe and hang it.
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        await ex._probe("import os\nfor _ in range(200):\n    os.write(2, b'w' * 4096)")
        result = await ex.run("final_answer('ok')")
    assert result.value == "ok"


_HOST_SCRIPT = """
import asyncio, sys
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.worker.pool import get_pool

async def main():
    ex = SandboxedExecutor(ExecutionPolicy(timeout_s=60), bubblewrap=sys.argv[1] == "1", _test_hooks=True)
    await ex.start()
    server = get_pool(ex._spec).fork_server
    print(ex._worker.pid, server.pid if server else 0, flush=True)
    await ex.run("import time\\ntime.sleep(60)")

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "use_bwrap", [pytest.param(True, marks=needs_bwrap), False], ids=["bwrap", "fallback"]
)
def test_workers_die_with_a_killed_host(use_bwrap):
    import signal
    import subprocess
    import sys
    import time

    host = subprocess.Popen(
        [sys.executable, "-c", _HOST_SCRIPT, "1" if use_bwrap else "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert host.stdout is not None
        spawned, server = map(int, host.stdout.readline().split())
        time.sleep(0.3)  # the worker is now inside the code
        # The forked worker, and its fork server (bwrap, its init, the server); or a sandbox of its own
        # (bwrap, its init and the worker); or the worker alone.
        tree = [spawned, *_descendants(spawned)] + ([server, *_descendants(server)] if server else [])
        assert (server != 0) == use_bwrap
        assert all(_alive(pid) for pid in tree)
        host.send_signal(signal.SIGKILL)
        host.wait(5)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in tree):
            assert time.monotonic() < deadline, "a worker process outlived its host"
            time.sleep(0.05)
    finally:
        host.kill()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie is dead, merely not reaped by its dead parent's reaper yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_UNCLOSED_SCRIPT = """
import asyncio
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor

async def main():
    for _ in range(2):  # one executor left running, one whose worker is killed by a timeout
        ex = SandboxedExecutor(ExecutionPolicy(timeout_s=0.5), bubblewrap=False)
        await ex.start()
        print(ex._worker.tmpdir, flush=True)
    await ex.run("while True: pass")

asyncio.run(main())
"""


def test_fallback_workers_leave_no_temp_dir_behind():
    # Without bubblewrap each worker gets a private temp dir on the host: gone when the host exits, even
    # for executors never closed and workers killed mid-action.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _UNCLOSED_SCRIPT], capture_output=True, text=True, timeout=60)
    tmpdirs = out.stdout.split()
    assert out.returncode == 0 and len(tmpdirs) == 2, out.stderr
    assert not any(os.path.exists(path) for path in tmpdirs)
