"""The fork server: workers forked in one shared sandbox must stay out of each other's reach.

Siblings serve other executors (other runs, other tasks of a benchmark), so everything one worker could
do to another is checked here from inside, with trusted probe code (as if the language wall were broken):
files, signals, limits, /proc, sockets, namespaces, capabilities. Plus the life cycle: a dead fork server
is reported and replaced, and where it cannot run the pool falls back to a sandbox per worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.types import ErrorKind
from codeagent.execution.worker import codec, forkserver, isolation, sandbox
from codeagent.execution.worker.pool import WorkerPool, get_pool
from codeagent.execution.worker.sandbox import SpawnSpec, sandbox_status

STATUS = sandbox_status()
REQUIRED = os.environ.get("CODEAGENT_REQUIRE_SANDBOX") == "1"
pytestmark = pytest.mark.skipif(
    not STATUS.full and not REQUIRED, reason=f"bubblewrap and seccomp needed: {STATUS.reason}"
)

POLICY = ExecutionPolicy(timeout_s=10)
#: Probe helper: "allowed", or the name of the OSError a call raised.
ATTEMPT = """
def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as exc:
        return type(exc).__name__
"""


async def two_siblings() -> tuple[SandboxedExecutor, SandboxedExecutor]:
    a = SandboxedExecutor(POLICY, _test_hooks=True)
    b = SandboxedExecutor(POLICY, _test_hooks=True)
    await asyncio.gather(a.start(), b.start())
    assert a._worker is not None and b._worker is not None
    assert a._worker.info.get("forked") and b._worker.info.get("forked")
    return a, b


async def test_workers_are_forked_and_fast_to_get():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("x = 1")
    started = time.perf_counter()
    for _ in range(10):
        async with SandboxedExecutor(POLICY) as ex:
            assert (await ex.run("final_answer(2)")).value == 2
            assert ex._worker is not None and ex._worker.info["forked"]
    # Loose bound (a loaded CI box): a sandbox each costs ~50 ms of CPU, a fork ~2 ms.
    assert (time.perf_counter() - started) / 10 < 0.5


async def test_runners_are_prepared_in_the_fork_server_for_policies_in_use():
    policy = ExecutionPolicy(timeout_s=7, max_output_chars=1234)  # a policy of this test's own
    async with SandboxedExecutor(policy) as first:
        assert (await first.run("final_answer(1)")).value == 1
    # Idle workers forked before the fork server had the runner do not have it; later ones do.
    for _ in range(50):
        async with SandboxedExecutor(policy) as ex:
            await ex.start()
            assert ex._worker is not None
            if ex._worker.info["prepared_runner"]:
                result = await ex.run("x = [i * i for i in range(4)]\nprint(x)\nfinal_answer(sum(x))")
                assert result.logs == "[0, 1, 4, 9]\n" and result.value == 14
                break
    else:
        raise AssertionError("no worker came with a prepared runner")
    # Another policy never gets this policy's runner (prepared for it or not, its own limits apply).
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=7, max_output_chars=999)) as other:
        result = await other.run("print('x' * 5000)")
        assert result.logs.startswith("x" * 999) and "x" * 1000 not in result.logs
    async with SandboxedExecutor(policy) as same:
        assert "x" * 1234 in (await same.run("print('x' * 5000)")).logs


async def test_siblings_have_private_tmp():
    a, b = await two_siblings()
    try:
        await a._probe("open('/tmp/secret.txt', 'w').write('a')")
        seen_by_b = await b._probe("import os\nresult = sorted(os.listdir('/tmp'))")
        assert "secret.txt" not in seen_by_b
        assert await a._probe("result = open('/tmp/secret.txt').read()") == "a"
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_siblings_cannot_signal_limit_or_inspect_each_other():
    a, b = await two_siblings()
    try:
        pid_a = await a._probe("import os\nresult = os.getpid()")
        out = await b._probe(
            f"""
import fcntl, os, resource, signal, struct, threading
{ATTEMPT}result = {{
    "kill_sibling": attempt(lambda: os.kill({pid_a}, signal.SIGKILL)),
    "kill_server": attempt(lambda: os.kill(os.getppid(), signal.SIGKILL)),
    "kill_group_0": attempt(lambda: os.kill(0, 0)),
    "kill_self": attempt(lambda: os.kill(os.getpid(), 0)),
    "thread_signal_self": attempt(lambda: signal.pthread_kill(threading.get_ident(), 0)),
    "prlimit_sibling": attempt(lambda: resource.prlimit({pid_a}, resource.RLIMIT_CPU, (1, 1))),
    "prlimit_self": attempt(lambda: resource.prlimit(0, resource.RLIMIT_CORE, (0, 0))),
    "affinity_sibling": attempt(lambda: os.sched_setaffinity({pid_a}, {{0}})),
    "nice_sibling": attempt(lambda: os.setpriority(os.PRIO_PROCESS, {pid_a}, 19)),
    "pidfd_sibling": attempt(lambda: os.pidfd_open({pid_a})),
    "sigio_sibling": attempt(lambda: fcntl.fcntl(os.pipe()[0], fcntl.F_SETOWN, {pid_a})),
    "sigio_ioctl": attempt(lambda: fcntl.ioctl(os.pipe()[0], 0x8901, struct.pack("i", {pid_a}))),
    "fcntl_other": attempt(lambda: fcntl.fcntl(os.pipe()[0], fcntl.F_GETFL)),
    "proc_environ": attempt(lambda: open("/proc/{pid_a}/environ", "rb").read()),
    "proc_cwd": attempt(lambda: os.listdir("/proc/{pid_a}/cwd")),
    "proc_mem": attempt(lambda: open("/proc/{pid_a}/mem", "rb").read(1)),
}}
"""
        )
        assert out == {
            "kill_sibling": "PermissionError",
            "kill_server": "PermissionError",
            "kill_group_0": "PermissionError",
            "kill_self": "allowed",
            "thread_signal_self": "allowed",
            "prlimit_sibling": "PermissionError",
            "prlimit_self": "allowed",
            "affinity_sibling": "PermissionError",
            "nice_sibling": "PermissionError",
            "pidfd_sibling": "PermissionError",
            "sigio_sibling": "PermissionError",
            "sigio_ioctl": "PermissionError",
            "fcntl_other": "allowed",
            "proc_environ": "PermissionError",
            "proc_cwd": "PermissionError",
            "proc_mem": "PermissionError",
        }
        assert (await a.run("final_answer('still here')")).value == "still here"
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_forked_worker_has_no_capabilities_sockets_or_namespaces():
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        out = await ex._probe(
            f"""
import ctypes, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
libc = ctypes.CDLL(None, use_errno=True)
{ATTEMPT}def abstract_server():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(b"\\0codeagent-test")
def connect_abstract():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(b"\\0codeagent-test")
result = {{
    "caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapInh", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"].strip(),
    "seccomp": status["Seccomp"].strip(),
    "dumpable": libc.prctl(3, 0, 0, 0, 0),
    "unshare": libc.unshare(0x00020000),
    "mount": libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None),
    "bind_abstract": attempt(abstract_server),
    "connect_abstract": attempt(connect_abstract),
    "socketpair": attempt(lambda: socket.socketpair()),
}}
"""
        )
    assert out["caps"] == ["0000000000000000"] * 4
    assert out["no_new_privs"] == "1" and out["seccomp"] == "2"
    assert out["dumpable"] == 0
    assert out["unshare"] == -1 and out["mount"] == -1
    assert out["bind_abstract"] == out["connect_abstract"] == "PermissionError"
    assert out["socketpair"] == "allowed"


async def test_threads_still_work_among_many_siblings():
    executors = [SandboxedExecutor(POLICY, _test_hooks=True) for _ in range(8)]
    try:
        await asyncio.gather(*(ex.start() for ex in executors))
        out = await executors[-1]._probe(
            """
import threading
done = []
threads = [threading.Thread(target=done.append, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
result = sorted(done)
"""
        )
        assert out == list(range(8))
    finally:
        await asyncio.gather(*(ex.close() for ex in executors))


async def test_children_forked_in_one_batch_keep_to_their_own_pipes_and_random_stream():
    server = forkserver.ForkServer(SpawnSpec(use_bwrap=True, tmp_size_mb=44, test_hooks=True))
    try:
        workers, problem = server.spawn_many(6)
        assert problem is None and len(workers) == 6
        probe = "import os, random\nresult = [len(os.listdir('/proc/self/fd')), random.random()]"
        seen = []
        for worker in workers:
            worker.wait_ready(30)
            await worker.send({"t": "probe", "code": probe}, 1 << 20)
            reply = await worker.recv(asyncio.get_running_loop().time() + 10)
            seen.append(codec.decode(reply["value"]))
        # stdin, stdout, stderr, its two pipes and the listing's own fd: none of its 5 siblings' 15 pipes.
        assert [count for count, _ in seen] == [6] * 6
        # Forked without CPython's at-fork hooks, each child still reseeds `random` (see Zygote.fork).
        assert len({number for _, number in seen}) == 6
        for worker in workers:
            worker.kill()
        # Exit statuses come back in one message for all of them.
        assert [worker.reap(5.0) for worker in workers] == [-signal.SIGKILL] * 6
    finally:
        server.shutdown()


async def test_rehearsal_in_the_fork_server_leaves_nothing_process_wide_to_its_children():
    # The fork server plays whole worker lives in itself before forking (see main.rehearse): a child must
    # still start from a clean process (no rlimits, stderr still its pipe, default recursion limit, no
    # rehearsal module as __main__) until its own init, and its first action must behave as ever.
    server = forkserver.ForkServer(SpawnSpec(use_bwrap=True, tmp_size_mb=42, test_hooks=True))
    try:
        worker = server.spawn()
        worker.wait_ready(30)
        probe = (
            "import os, resource, sys, stat\n"
            "result = [resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY,\n"
            "          stat.S_ISFIFO(os.fstat(2).st_mode), sys.getrecursionlimit(),\n"
            "          hasattr(sys.modules['__main__'], 'message')]"
        )
        await worker.send({"t": "probe", "code": probe}, 1 << 20)
        reply = await worker.recv(asyncio.get_running_loop().time() + 10)
        assert codec.decode(reply["value"]) == [True, True, 1000, False]
        worker.kill()
        worker.reap(5.0)
    finally:
        server.shutdown()
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        result = await ex.run("x = 1\nprint(x + 1)\nfinal_answer(x)")
        assert result.logs == "2\n" and result.value == 1
        limit = await ex._probe("import resource\nresult = resource.getrlimit(resource.RLIMIT_AS)[0]")
        assert limit == POLICY.memory_mb * 1024 * 1024  # its own init did limit it


async def test_sandboxes_share_one_low_priority_scheduling_group():
    # Every forked worker stays in the fork server's session: with autogroup scheduling a session is a
    # group, and one group per worker would outweigh the host's event loop 64 to 1 in a benchmark.
    a, b = await two_siblings()
    try:
        probe = "import os\nresult = [os.getsid(0), os.sched_getscheduler(0) == os.SCHED_BATCH]"
        assert await a._probe(probe) == await b._probe(probe) == [1, True]  # the fork server (pid 1)'s
        assert a._spec is not None
        server = get_pool(a._spec).fork_server
        assert server is not None
        if Path("/proc/self/autogroup").exists():  # noqa: ASYNC240  (the kernel groups by session)
            zygote = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0]  # noqa: ASYNC240
            group = Path(f"/proc/{zygote}/autogroup").read_text()  # noqa: ASYNC240
            assert group.split()[-1] == str(forkserver.SANDBOX_GROUP_NICE)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_timeout_kills_only_the_worker_not_the_server():
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=0.5)) as ex:
        await ex.run("x = 1")
        spec = ex._spec
        assert spec is not None
        server = get_pool(spec).fork_server
        assert server is not None
        result = await ex.run("while True: pass")
        assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
        assert (await ex.run("final_answer(3)")).value == 3
        assert get_pool(spec).fork_server is server and server.alive()


async def test_a_dead_fork_server_is_reported_and_replaced():
    spec = SpawnSpec(use_bwrap=True, tmp_size_mb=48)  # a pool and server of this test's own
    pool = WorkerPool(spec, min_idle=0)
    try:
        worker = await pool.acquire()
        server = pool.fork_server
        assert server is not None
        os.killpg(server.pid, signal.SIGKILL)
        status = await worker.wait_exit(5.0)
        assert status == -signal.SIGKILL
        kind, why = worker.describe_exit(status)
        assert kind is ErrorKind.CRASHED and "fork server" in why
        pool.discard(worker)
        fresh = await pool.acquire()
        assert fresh.alive() and pool.fork_server is not None and pool.fork_server is not server
        pool.discard(fresh)
    finally:
        pool.shutdown()


async def test_without_the_fork_server_each_worker_gets_its_own_sandbox():
    async with SandboxedExecutor(POLICY, fork_server=False, _test_hooks=True) as ex:
        out = await ex._probe("import os\nresult = sorted(p for p in os.listdir('/proc') if p.isdigit())")
        assert ex._worker is not None and not ex._worker.info["forked"]
    assert len(out) <= 2  # bubblewrap's init and the worker
    result = await SandboxedExecutor(ExecutionPolicy(timeout_s=0.5), fork_server=False).run(
        "while True: pass"
    )
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT


async def test_no_fork_server_without_seccomp():
    # Without the child filter nothing would keep siblings from signalling each other.
    async with SandboxedExecutor(POLICY, seccomp=False) as ex:
        assert (await ex.run("final_answer(5)")).value == 5
        assert ex._worker is not None and not ex._worker.info["forked"]


async def test_pool_falls_back_when_workers_cannot_be_isolated(monkeypatch, caplog):
    # A real failure: bubblewrap started *without* the capability the fork server needs, so its trial
    # child cannot create a mount namespace.
    def without_capability(spec: SpawnSpec) -> list[str]:
        bwrap = sandbox.shutil.which("bwrap")
        assert bwrap is not None
        return sandbox.bwrap_args(bwrap, spec) + sandbox.python_args(sandbox.ZYGOTE_BOOTSTRAP)

    monkeypatch.setattr(forkserver, "zygote_command", without_capability)
    pool = WorkerPool(SpawnSpec(use_bwrap=True, tmp_size_mb=40), min_idle=0)
    try:
        with caplog.at_level(logging.WARNING, logger="codeagent.execution.pool"):
            worker = await pool.acquire()
        assert pool.fork_server is None
        assert pool.fork_server_unavailable and "unshare" in pool.fork_server_unavailable
        assert "sandbox per worker" in caplog.text
        assert worker.alive() and not worker.info["forked"]
        pool.discard(worker)
    finally:
        pool.shutdown()


def test_pid_patch_only_touches_pid_comparisons():
    from codeagent.execution.worker.seccomp import seccomp_program

    program = seccomp_program(False, "child")
    assert program is not None and isolation.PID_SENTINEL.to_bytes(4, "little") in program
    patched = isolation.patch_pid(program, 1234)
    assert len(patched) == len(program) and isolation.PID_SENTINEL.to_bytes(4, "little") not in patched
    worker_program = seccomp_program(False, "worker")
    assert worker_program is not None
    with pytest.raises(ValueError, match="no pid comparison"):
        isolation.patch_pid(worker_program, 1234)


async def test_a_forked_workers_process_limit_counts_the_processes_of_its_sandbox():
    # RLIMIT_NPROC counts every process of the sandbox's uid: a forked worker's limit is its policy's plus
    # the processes in the fork server's sandbox at init (counted from the fork server's children).
    policy = ExecutionPolicy(timeout_s=10, max_processes=5)
    hooks = {"_test_hooks": True}  # the same sandbox configuration, so the same fork server
    async with SandboxedExecutor(POLICY, **hooks) as sibling, SandboxedExecutor(policy, **hooks) as ex:
        await sibling.start()
        limit, visible = await ex._probe(
            "import os, resource\n"
            "result = [resource.getrlimit(resource.RLIMIT_NPROC)[0],"
            " sum(1 for p in os.listdir('/proc') if p.isdigit())]"
        )
        idle = get_pool(ex._spec).idle_count()
    counted = limit - 5
    assert counted >= 3  # the fork server, the sibling and this worker at least
    assert abs(counted - visible) <= 4 + idle  # the warm pool may fork (refill) or lose workers in between
