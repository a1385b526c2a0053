"""Red-team attacks on the OS wall and on the host side of the bridge.

OS-wall checks run *trusted* probe code inside the real worker (`SandboxedExecutor(_test_hooks=True)._probe`),
as if the language wall were already broken. Bridge checks feed the host what a compromised worker could
send (forged values, forged results), or run model code that makes the host work for it.

Found and fixed:

* `/proc` was mounted read-write in the sandbox. When the host runs as root, the sandbox uid (65534 inside)
  is host uid 0, and the kernel lets uid 0 write *global* sysctls without capabilities
  (`/proc/sys/kernel/core_pattern` = `|program` runs a program as root on the host). bubblewrap covers
  `/proc/sys` only when the directory itself is writable. Fixed: `--remount-ro /proc`.
* The host decoded a worker's values with exceptions escaping into `SandboxedExecutor.run`
  (`decimal.InvalidOperation`, `ZeroDivisionError`, PIL errors), opened any image format (EPS runs
  Ghostscript) of any size, built sets/dicts of crafted colliding hashes (quadratic, on the event loop; the
  time spent decoding a tool call's arguments is not even charged to the worker's deadline), and applied
  any dtype string (`"(1000000000,)u1"`: a gigabyte per row).
* A final answer whose `__repr__` raised SystemExit (or a wall signal) killed the worker and its state.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.types import ErrorKind
from codeagent.execution.worker import codec
from codeagent.execution.worker.sandbox import sandbox_status

#: This checkout, wherever it lies: its .git and the shared/ beside it must be invisible in the sandbox.
REPO = Path(__file__).resolve().parents[2]

STATUS = sandbox_status()
REQUIRED = os.environ.get("CODEAGENT_REQUIRE_SANDBOX") == "1"
needs_bwrap = pytest.mark.skipif(
    STATUS.bwrap is None and not REQUIRED, reason=f"bubblewrap unavailable: {STATUS.reason}"
)
needs_seccomp = pytest.mark.skipif(
    not STATUS.seccomp and not REQUIRED, reason="pyseccomp/libseccomp unavailable"
)

POLICY = ExecutionPolicy(timeout_s=10)
SECRET = "codeagent-redteam-s3cr3t"


async def probe(code: str, **kwargs):
    async with SandboxedExecutor(POLICY, _test_hooks=True, **kwargs) as ex:
        return await ex._probe(code)


# --- OS wall (the language wall assumed broken) -------------------------------------------------------


@needs_bwrap
async def test_global_sysctls_are_not_writable():
    """Writes the *current* value back (a no-op on the host if it were allowed): must fail with EROFS."""
    out = await probe(
        "import errno\n"
        "p = '/proc/sys/kernel/printk_ratelimit'\n"
        "value = open(p).read()\n"
        "try:\n    open(p, 'w').write(value)\n    result = 'written'\n"
        "except OSError as exc:\n    result = errno.errorcode[exc.errno]\n",
        bubblewrap=True,
    )
    assert out in ("EROFS", "EACCES", "EPERM")


@needs_bwrap
async def test_proc_is_read_only():
    out = await probe(
        "import os\nresult = [os.access(p, os.W_OK) for p in "
        "('/proc/sys/kernel/core_pattern', '/proc/sys/kernel/hostname', '/proc/self/oom_score_adj')]",
        bubblewrap=True,
    )
    assert out == [False, False, False]


@needs_bwrap
async def test_host_environment_and_processes_are_invisible(monkeypatch):
    monkeypatch.setenv("CODEAGENT_REDTEAM_SECRET", SECRET)  # like an API key in the host's environment
    out = await probe(
        """
import os
blob = repr(dict(os.environ)).encode()
for entry in os.listdir("/proc"):
    if entry.isdigit() or entry == "self":
        for name in ("environ", "cmdline"):
            try:
                blob += open(f"/proc/{entry}/{name}", "rb").read()
            except OSError:
                pass
commands = {}
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            commands[entry] = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            commands[entry] = b"?"
result = (blob, commands)
""",
        bubblewrap=True,
    )
    blob, commands = out
    assert SECRET.encode() not in blob
    assert b"pytest" not in blob
    # Only the sandbox's own processes: bubblewrap's init, and the fork server with its workers (the
    # worker's siblings serve other executors; test_forkserver checks they are out of reach).
    for pid, command in commands.items():
        assert command.startswith(b"bwrap") or b"codeagent.execution.worker" in command, (pid, command)


@needs_bwrap
async def test_host_files_are_invisible():
    out = await probe(
        """
import os
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__
result = {
    "shadow": attempt(lambda: open("/etc/shadow").read()),
    "passwd": attempt(lambda: open("/etc/passwd").read()),
    "shared": attempt(lambda: os.listdir("@SHARED@")),
    "git": attempt(lambda: os.listdir("@GIT@")),
    "run": attempt(lambda: os.listdir("/run")),
    "sys": attempt(lambda: os.listdir("/sys")),
    "shm_write": attempt(lambda: open("/dev/shm/x", "w").write("x")),
}
""".replace("@SHARED@", str(REPO.parent / "shared")).replace("@GIT@", str(REPO / ".git")),
        bubblewrap=True,
    )
    assert out["shm_write"] in ("OSError", "PermissionError")
    assert all(v == "FileNotFoundError" for k, v in out.items() if k != "shm_write"), out


@needs_seccomp
async def test_dangerous_syscalls_fail_even_through_raw_syscall():
    """libc's syscall() with raw numbers (x86-64), bypassing Python's wrappers."""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("syscall numbers are for x86-64")
    out = await probe(
        """
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    ctypes.set_errno(0)
    return (libc.syscall(nr, *args), ctypes.get_errno())
buf = ctypes.create_string_buffer(256)
result = {
    "ptrace_attach": sc(101, 16, 1, 0, 0),
    "process_vm_readv": sc(310, 1, 0, 0, 0, 0, 0),
    "io_uring_setup": sc(425, 8, buf),
    "bpf": sc(321, 0, buf, 16),
    "keyctl": sc(250, 0, 0, 0, 0, 0),
    "perf_event_open": sc(298, buf, 0, -1, -1, 0),
    "userfaultfd": sc(323, 0),
    "setns": sc(308, 0, 0),
    "clone_newuser": sc(56, 0x10000000 | 17, 0, 0, 0, 0),
    "unshare_newns": sc(272, 0x00020000),
    "kexec_load": sc(246, 0, 0, 0, 0),
    "init_module": sc(175, buf, 16, buf),
    "pidfd_getfd": sc(438, 0, 0, 0),
}
for family in ("AF_NETLINK", "AF_PACKET", "AF_VSOCK", "AF_INET", "AF_INET6"):
    try:
        kind = socket.SOCK_RAW if family in ("AF_NETLINK", "AF_PACKET") else socket.SOCK_DGRAM
        socket.socket(getattr(socket, family), kind)
        result[family] = "allowed"
    except OSError as exc:
        result[family] = exc.errno
try:
    fd = os.memfd_create("x")
    os.write(fd, open("/bin/true", "rb").read())
    os.execve(f"/proc/self/fd/{fd}", ["x"], {})
except OSError as exc:
    result["memfd_exec"] = exc.errno
""",
    )
    import errno

    for name, value in out.items():
        if isinstance(value, tuple):
            assert value[0] == -1 and value[1] in (errno.EPERM, errno.ENOSYS), (name, value)
        else:
            assert value == errno.EPERM, (name, value)


async def test_hard_rlimits_cannot_be_raised():
    out = await probe(
        "import resource as r\nresult = []\n"
        "for which in (r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_NPROC, r.RLIMIT_NOFILE):\n"
        "    try:\n        r.setrlimit(which, (r.RLIM_INFINITY, r.RLIM_INFINITY))\n"
        "        result.append('raised')\n"
        "    except (ValueError, OSError):\n        result.append('refused')"
    )
    assert out == ["refused"] * 5


# --- language-wall escapes through the sandboxed executor ------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "import enum\nclass C(enum.Enum):\n    A = 1\nenum.pickle_by_enum_name(C.A, 4)[0]",
        "import typing, copy\nm = {}\ncopy.deepcopy(typing.ForwardRef('1'), m)\ntype(lambda: 0)(None, {})",
        "import dataclasses, math\ndataclasses.dataclass(type(math).mro()[1])",
        "import typing, json\ntyping.Annotated[json.JSONEncoder, 0].encode = lambda self, o: '{}'",
        "import time\ntype(time.get_clock_info('time'))(**{'__array_interface__': {}})",
    ],
    ids=["enum-getattr", "function-class", "dataclass-wall", "alias-monkeypatch", "simplenamespace"],
)
async def test_language_escapes_are_refused_in_the_worker(code):
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("kept = 41")
        result = await ex.run(code)
        assert result.error is not None and result.error.kind is ErrorKind.FORBIDDEN, result
        after = await ex.run("final_answer(kept + 1)")
    assert after.value == 42 and not after.state_reset


async def test_numpy_object_forging_is_refused_in_the_worker():
    pytest.importorskip("numpy")
    policy = ExecutionPolicy(timeout_s=10, authorized_imports=("numpy.*",))
    async with SandboxedExecutor(policy) as ex:
        result = await ex.run("import numpy as np\nnp.ndarray((1,), dtype='O', buffer=bytearray(8))[0]")
    assert result.error is not None and result.error.kind is ErrorKind.FORBIDDEN


# --- the host side of the bridge --------------------------------------------------------------------

COLLIDING_SET = "s = {i * (2**61 - 1) for i in range(2000)}\n"  # every element hashes to 0


@pytest.mark.parametrize(
    "value",
    [
        "class A:\n    def __repr__(self):\n        raise SystemExit\nA()",
        "class A:\n    def __repr__(self):\n        final_answer(1)\nA()",
        "class A:\n    def __repr__(self):\n        return getattr(getattr(1, '__class__'), '__base__')\nA()",
    ],
    ids=["system-exit", "final-answer", "forbidden"],
)
async def test_hostile_repr_of_the_result_does_not_kill_the_worker(value):
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("kept = 41")
        result = await ex.run(value.replace("A()", "final_answer(A())"))
        assert result.error is not None and result.error.kind is ErrorKind.RUNTIME, result
        assert "could not be returned" in result.error.message and not result.state_reset
        assert (await ex.run("final_answer(kept + 1)")).value == 42


async def test_hostile_exception_str_is_a_plain_error():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("kept = 41")
        result = await ex.run(
            "class E(Exception):\n    def __str__(self):\n        raise SystemExit\nraise E()"
        )
        assert result.error is not None and result.error.kind is ErrorKind.RUNTIME and not result.state_reset
        assert (await ex.run("final_answer(kept + 1)")).value == 42


async def test_colliding_hashes_cannot_stall_the_host():
    calls = []
    async with SandboxedExecutor(POLICY) as ex:
        await ex.send_tools({"take": lambda value: calls.append(value) or "taken"})
        start = time.monotonic()
        result = await ex.run(COLLIDING_SET + "try:\n    take(s)\nexcept ToolCallError as e:\n    print(e)")
        assert result.error is None and "same hash value" in result.logs, result
        result = await ex.run(COLLIDING_SET + "final_answer(s)")
        assert result.error is not None and result.error.kind is ErrorKind.CRASHED
        assert time.monotonic() - start < 5
        assert calls == []
        assert (await ex.run("final_answer({i for i in range(5000)})")).value == set(range(5000))


async def test_c_stack_overflow_crashes_only_the_worker():
    """Deeply nested C iterators recurse in C without a depth check: the worker dies (SIGSEGV), the host does
    not; in-process this would kill the host (a CPython limitation, see the report)."""
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=20)) as ex:
        await ex.run("kept = 1")
        result = await ex.run(
            "import itertools\nc = iter([])\n"
            "for _ in range(1_000_000):\n    c = itertools.chain(c)\nnext(c, None)"
        )
        assert result.error is not None and result.error.kind is ErrorKind.CRASHED and result.state_reset
        after = await ex.run("final_answer(2)")
    assert after.value == 2


@pytest.mark.parametrize(
    "data",
    [
        {"__ca__": "decimal", "v": "not a number"},
        {"__ca__": "fraction", "v": "1/0"},
        {"__ca__": "set", "v": [i * (2**61 - 1) for i in range(1000)]},
        {"__ca__": "frozenset", "v": [{"__ca__": "tuple", "v": [i * (2**61 - 1)]} for i in range(1000)]},
        {"__ca__": "dict", "v": [[i * (2**61 - 1), 0] for i in range(1000)]},
        {"__ca__": "image", "format": "png", "mode": "RGB", "size": [1, 1], "b64": "R0lGODlhAQABAAAAACw="},
        {"__ca__": "ndarray", "dtype": "(1000000000,)u1", "shape": [1], "b64": ""},
    ],
    ids=["decimal", "fraction", "set", "frozenset", "dict", "gif", "subarray"],
)
def test_forged_values_are_codec_errors(data):
    with pytest.raises(codec.CodecError):
        codec.decode(data)


def test_decompression_bomb_image_is_refused():
    pil = pytest.importorskip("PIL.Image")
    import io

    buf = io.BytesIO()
    pil.new("1", (6000, 5000)).save(buf, format="PNG")  # 30 M pixels, a few kB of PNG
    data = {
        "__ca__": "image",
        "format": "png",
        "mode": "1",
        "size": [6000, 5000],
        "b64": codec._b64(buf.getvalue()),
    }
    with pytest.raises(codec.CodecError, match="too large"):
        codec.decode(data)


def test_forged_dataframe_dtypes_are_ignored():
    pd = pytest.importorskip("pandas")
    data = {
        "__ca__": "dataframe",
        "columns": ["a"],
        "index": [0, 1],
        "data": [[1], [2]],
        "dtypes": ["(1000000000,)u1"],
    }
    frame = codec.decode(data)
    assert isinstance(frame, pd.DataFrame) and frame["a"].tolist() == [1, 2]
    series = codec.decode(
        {"__ca__": "series", "name": "s", "index": [0], "data": [1], "dtype": "(1000000000,)u1"}
    )
    assert series.tolist() == [1]


async def test_forged_result_and_tool_call_are_results_not_exceptions():
    """What a compromised worker sends: the executor reports it, never raises."""
    async with SandboxedExecutor(POLICY) as ex:
        await ex.send_tools({"echo": lambda x: x})
        await ex.start()
        bad = {"__ca__": "decimal", "v": "x"}
        call = {"t": "call", "id": 1, "name": "echo", "args": [bad], "kwargs": {}}
        reply = await ex._call_tool(call, ex._worker)
        assert reply["ok"] is False and "invalid arguments" in reply["message"]
        result = ex._finish({"t": "result", "value": bad, "logs": "", "error": None}, time.perf_counter(), [])
        assert result.error is not None and result.error.kind is ErrorKind.CRASHED and result.state_reset
        assert (await ex.run("final_answer(3)")).value == 3


async def test_a_worker_that_answers_a_fresh_run_with_something_else_is_dropped():
    """A compromised worker answering a tool's fresh-namespace run out of protocol: the tool gets SandboxLost,
    the calling action ends as a crash with its state reset, and the executor goes on with a fresh worker."""
    from codeagent.execution.caller import SandboxLost, caller_sandbox

    raised: list[BaseException] = []

    async def run_fresh() -> str:
        sandbox = caller_sandbox()
        assert sandbox is not None
        try:
            await sandbox.run_fresh("1", timeout_s=2)
        except SandboxLost as exc:
            raised.append(exc)
        return "done"

    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        await ex.send_tools({"run_fresh": run_fresh})
        await ex._probe(
            "from codeagent.execution.worker.main import Worker\n"
            "Worker._run_fresh = lambda self, message: self.send({'t': 'pong'})\n"
        )
        result = await ex.run("run_fresh()")
        assert raised and result.error is not None and result.error.kind is ErrorKind.CRASHED
        assert "protocol" in result.error.message or "failed" in result.error.message
        assert result.state_reset
        assert (await ex.run("final_answer(3)")).value == 3


async def test_executor_survives_many_attacks_in_a_row():
    """The attacks above, back to back on one executor: every step returns, the last one works."""
    async with SandboxedExecutor(POLICY) as ex:
        for code in (
            "import enum\nenum.pickle_by_enum_name",
            COLLIDING_SET + "final_answer(s)",
            "class A:\n    def __repr__(self):\n        raise SystemExit\nfinal_answer(A())",
        ):
            result = await asyncio.wait_for(ex.run(code), 30)
            assert result.error is not None
        assert (await ex.run("final_answer('alive')")).value == "alive"
