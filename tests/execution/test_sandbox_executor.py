"""SandboxedExecutor behaviour: state across steps, variables, concurrency, pool, lifecycle."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time

import pytest

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.types import ErrorKind, Executor
from codeagent.execution.worker.pool import get_pool

POLICY = ExecutionPolicy(timeout_s=5)


def test_implements_executor_protocol():
    assert isinstance(SandboxedExecutor(), Executor)


def test_default_executor_is_sandboxed():
    from codeagent.execution.factory import create_executor

    assert isinstance(create_executor(), SandboxedExecutor)


async def test_state_persists_between_runs():
    async with SandboxedExecutor(POLICY) as ex:
        r1 = await ex.run("import math\nx = 2\ndef f(n):\n    return n * x\n")
        assert r1.ok and not r1.state_reset
        r2 = await ex.run("x += 1\nprint(f(10), math.floor(2.5))")
        assert r2.ok and r2.logs == "30 2\n"
        r3 = await ex.run("final_answer({'x': x})")
        assert r3.is_final_answer and r3.value == {"x": 3}


async def test_errors_are_results_not_exceptions():
    async with SandboxedExecutor(POLICY) as ex:
        result = await ex.run("print('before')\n1/0")
        assert result.error is not None and result.error.type == "ZeroDivisionError"
        assert result.logs == "before\n"
        syntax = await ex.run("def (:")
        assert syntax.error is not None
        assert (await ex.run("print('still alive')")).logs == "still alive\n"


async def test_system_exit_in_code_does_not_kill_the_worker():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("keep = 1")
        result = await ex.run("raise SystemExit(3)")
        assert result.error is not None
        after = await ex.run("print(keep)")
        assert after.logs == "1\n" and not after.state_reset


async def test_variables_sent_in_and_kept_across_resets():
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=1, max_operations=10**12)) as ex:
        await ex.send_variables({"data": {"rows": [(1, "a"), (2, "b")]}, "raw": b"\x00\x01"})
        result = await ex.run("print(len(data['rows']), data['rows'][0], raw)")
        assert result.logs == "2 (1, 'a') b'\\x00\\x01'\n"
        await ex.send_variables({"late": 7})  # sent to the live worker
        assert (await ex.run("print(late)")).logs == "7\n"
        killed = await ex.run("while True: pass")
        assert killed.error is not None and killed.error.kind is ErrorKind.TIMEOUT
        after = await ex.run("print(late, data['rows'][1])")
        assert after.ok and after.state_reset and after.logs == "7 (2, 'b')\n"


async def test_send_variables_validates_names_and_size():
    async with SandboxedExecutor(ExecutionPolicy(max_message_bytes=1000)) as ex:
        with pytest.raises(ValueError, match="identifier"):
            await ex.send_variables({"not valid": 1})
        with pytest.raises(ValueError, match="max_message_bytes"):
            await ex.send_variables({"big": "x" * 5000})


async def test_final_answer_values_keep_their_types():
    async with SandboxedExecutor(POLICY) as ex:
        result = await ex.run(
            "import datetime\nfinal_answer({'t': (1, 2), 's': {3}, 'b': b'hi', "
            "'d': datetime.date(2024, 1, 2), 5: None})"
        )
    import datetime

    assert result.is_final_answer
    assert result.value == {"t": (1, 2), "s": {3}, "b": b"hi", "d": datetime.date(2024, 1, 2), 5: None}


async def test_oversized_final_answer_is_a_clear_error():
    async with SandboxedExecutor(ExecutionPolicy(max_message_bytes=10_000)) as ex:
        result = await ex.run("final_answer('x' * 50_000)")
        assert result.error is not None and result.error.kind is ErrorKind.OUTPUT_LIMIT
        assert "max_message_bytes" in result.error.message and not result.is_final_answer
        assert (await ex.run("print('ok')")).ok


async def test_numpy_final_answer_is_encoded_explicitly():
    np = pytest.importorskip("numpy")
    policy = ExecutionPolicy(timeout_s=20, authorized_imports=("numpy", "numpy.*"))
    async with SandboxedExecutor(policy) as ex:
        result = await ex.run("import numpy as np\nfinal_answer(np.arange(6).reshape(2, 3) * 2)")
    assert result.ok, result.error
    assert isinstance(result.value, np.ndarray) and result.value.tolist() == [[0, 2, 4], [6, 8, 10]]


async def test_unencodable_value_comes_back_as_tagged_repr():
    from codeagent.execution.worker.codec import OpaqueValue

    async with SandboxedExecutor(POLICY) as ex:
        result = await ex.run("class Foo:\n    pass\nfinal_answer(Foo)")
    assert isinstance(result.value, OpaqueValue) and "Foo" in repr(result.value)


async def test_several_executors_run_concurrently():
    n = 6
    executors = [SandboxedExecutor(POLICY) for _ in range(n)]
    try:
        await asyncio.gather(*(ex.send_variables({"i": i}) for i, ex in enumerate(executors)))
        start = time.monotonic()
        results = await asyncio.gather(
            *(ex.run("import time\ntime.sleep(0.5)\nfinal_answer(i * 10)") for ex in executors)
        )
        elapsed = time.monotonic() - start
        assert [r.value for r in results] == [i * 10 for i in range(n)]
        assert elapsed < 0.5 * n * 0.6  # overlapped, not serialised
        pids = {ex._worker.pid for ex in executors if ex._worker is not None}
        assert len(pids) == n  # never a shared worker
    finally:
        await asyncio.gather(*(ex.close() for ex in executors))


async def test_one_run_at_a_time_per_executor():
    async with SandboxedExecutor(POLICY) as ex:
        first = asyncio.create_task(ex.run("import time\ntime.sleep(0.3)"))
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="already in progress"):
            await ex.run("1")
        assert (await first).ok


async def test_warm_pool_hands_out_ready_workers():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("1")  # creates the pool for this spec
        spec = ex._spec
    assert spec is not None
    pool = get_pool(spec)
    for _ in range(100):  # the pool thread refills in the background
        if pool.idle_count() >= 1:
            break
        await asyncio.sleep(0.05)
    assert pool.idle_count() >= 1
    async with SandboxedExecutor(POLICY) as ex:
        start = time.perf_counter()
        result = await ex.run("x = 1")
        first_step = time.perf_counter() - start
        assert result.ok
    assert first_step < 0.5  # no cold start on the critical path (typically a few ms)


async def test_closed_executor_refuses_work_and_close_is_idempotent():
    ex = SandboxedExecutor(POLICY)
    await ex.run("1")
    worker = ex._worker
    await ex.close()
    await ex.close()
    assert worker is not None
    await worker.wait_exit()
    assert not worker.alive()
    with pytest.raises(RuntimeError, match="closed"):
        await ex.run("1")


async def test_executor_usable_from_successive_event_loops():
    # e.g. a sync wrapper calling asyncio.run per step: the worker is not bound to a loop.
    ex = SandboxedExecutor(POLICY)

    def step(code: str):
        return asyncio.run(ex.run(code))

    await asyncio.to_thread(step, "v = 41")
    result = await asyncio.to_thread(step, "print(v + 1)")
    assert result.logs == "42\n" and not result.state_reset
    await ex.close()


def _run_with_fd_room(script: str, fds: int, why: str) -> subprocess.CompletedProcess[str]:
    """Run `script` in a new Python, on a host whose hard open-file limit is over `fds`."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard > fds, why
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=False
    )


_MANY_FDS_SCRIPT = """
import asyncio, os, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2048 if hard == resource.RLIM_INFINITY else min(hard, 2048)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
held = []
while not held or held[-1] < 1100:  # every new pipe of the host is now numbered past select()'s 1023
    held.append(os.open(os.devnull, os.O_RDONLY))
from codeagent.execution.sandboxed import SandboxedExecutor

async def main():
    for fork_server in (True, False):
        async with SandboxedExecutor(fork_server=fork_server) as executor:
            result = await executor.run("print(6 * 7)")
            print(fork_server, result.logs.strip(), executor._worker.rfd > 1023)

asyncio.run(main())
"""


def test_workers_start_when_the_host_has_fds_past_select_limit():
    """A host with many workers has pipes numbered past 1023, where select() fails: the pool thread's waits
    must not use it (found at 64 concurrent tasks with two sandboxes each)."""
    out = _run_with_fd_room(_MANY_FDS_SCRIPT, 1200, "this host cannot open fds past 1023")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:2] == ["True 42 True", "False 42 True"], out.stdout + out.stderr[-3000:]


_LOW_FD_LIMIT_SCRIPT = """
import asyncio, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
from codeagent.execution.sandboxed import SandboxedExecutor

async def one(i):
    async with SandboxedExecutor() as executor:
        result = await executor.run(f"print({i} * 2)")
        await asyncio.sleep(0.5)  # all of them alive at once
        return result.logs.strip()

async def main():
    outs = await asyncio.gather(*(one(i) for i in range(70)))
    print(outs == [str(2 * i) for i in range(70)], resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 200)

asyncio.run(main())
"""


def test_many_workers_with_a_low_soft_fd_limit():
    """70 live workers need ~280 of the host's fds: the pool raises a low soft limit (here 200) to the hard
    one, as any user may, instead of failing with 'too many open files'."""
    out = _run_with_fd_room(_LOW_FD_LIMIT_SCRIPT, 400, "this host's hard fd limit is too low for the test")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "True True", out.stdout + out.stderr[-3000:]
