"""Resource attacks: each ends within its limit, the host survives, and the next call works.

Attacks are ordinary model code (through the language wall, whatever it allows); where the language wall
might refuse first (fork, files), the OS-level outcome is also checked through the trusted probe hook.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import time

import pytest

from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.types import ErrorKind
from codeagent.execution.worker.sandbox import sandbox_status

TIMEOUT = 1.0
# A generous operation budget so that the wall clock, not the language wall's counter, stops the loop.
POLICY = ExecutionPolicy(timeout_s=TIMEOUT, memory_mb=384, max_operations=10**12, file_size_mb=8)


async def assert_recovers(ex: SandboxedExecutor) -> None:
    """The executor works again after an attack, in a fresh worker flagged as such."""
    result = await ex.run("z = 20 + 22\nprint(z)")
    assert result.ok, result.error
    assert result.logs == "42\n"


async def run_attack(code: str, *, policy: ExecutionPolicy = POLICY, limit_s: float = TIMEOUT + 3):
    async with SandboxedExecutor(policy) as ex:
        await ex.run("warm = 1")
        start = time.monotonic()
        result = await ex.run(code)
        elapsed = time.monotonic() - start
        assert elapsed < limit_s, f"attack took {elapsed:.1f}s"
        await assert_recovers(ex)
    return result


@pytest.mark.parametrize(
    "code",
    ["while True: pass", "import time\ntime.sleep(100)"],
    ids=["busy-loop", "sleep"],
)
async def test_wall_clock_timeout_kills_and_resets(code):
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("keep = 'state'")
        start = time.monotonic()
        result = await ex.run(code)
        assert time.monotonic() - start < TIMEOUT + 1.5  # killed, not waited for
        assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
        assert result.state_reset
        assert "state" in result.error.message or "gone" in result.error.message
        after = await ex.run("print(keep)")
        assert after.state_reset  # the next step is told too
        assert after.error is not None and after.error.type == "NameError"
        again = await ex.run("print('fine')")
        assert again.ok and not again.state_reset


async def test_single_huge_c_operation_is_stopped():
    # One bytecode that runs for minutes in C: no operation counter can interrupt it, only the OS wall
    # (unless the language wall refuses the operation up front, which is fine too).
    result = await run_attack("x = 10**10**8")
    assert result.error is not None
    if result.error.kind is ErrorKind.TIMEOUT:
        assert result.state_reset


@pytest.mark.parametrize(
    "code",
    ["x = ' ' * 10**10", "x = []\nwhile True:\n    x.append(' ' * 10**6)"],
    ids=["one-huge-string", "gradual-growth"],
)
async def test_memory_bomb_is_reported_as_memory_and_resets(code):
    policy = ExecutionPolicy(timeout_s=10, memory_mb=256, max_operations=10**12)
    result = await run_attack(code, policy=policy, limit_s=10)
    assert result.error is not None and result.error.kind is ErrorKind.MEMORY, result.error
    assert result.state_reset


async def test_fork_bomb_attempt_fails():
    code = "import os\nfor _ in range(100):\n    os.fork()"
    result = await run_attack(code)
    assert result.error is not None  # refused by the language wall or by seccomp
    assert result.error.kind in (ErrorKind.FORBIDDEN, ErrorKind.RUNTIME)


@pytest.mark.skipif(not sandbox_status().seccomp, reason="seccomp unavailable")
async def test_fork_refused_at_os_level_even_past_the_language_wall():
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        out = await ex._probe(
            "import os\ntry:\n    os.fork()\n    result = 'forked'\n"
            "except OSError as e:\n    result = e.errno"
        )
        assert out == errno.EPERM
        await assert_recovers(ex)


async def test_huge_file_write_fails_at_file_size_limit():
    code = "with open('/tmp/big', 'wb') as f:\n    f.write(b'x' * (100 * 2**20))"
    result = await run_attack(code)
    assert result.error is not None  # open() refused by the language wall, or EFBIG from RLIMIT_FSIZE
    async with SandboxedExecutor(POLICY, _test_hooks=True) as ex:
        out = await ex._probe(
            "try:\n"
            "    with open('/tmp/big', 'wb') as f:\n"
            "        for _ in range(100):\n"
            "            f.write(b'x' * 2**20)\n"
            "    result = 'wrote'\n"
            "except OSError as e:\n"
            "    result = e.errno"
        )
        assert out == errno.EFBIG  # and the worker survives (SIGXFSZ ignored)
        await assert_recovers(ex)


async def test_printing_forever_ends_within_limits():
    result = await run_attack("while True:\n    print('spam ' * 100)", limit_s=TIMEOUT + 5)
    assert result.error is not None
    assert result.error.kind in (ErrorKind.OUTPUT_LIMIT, ErrorKind.TIMEOUT, ErrorKind.MEMORY)
    assert len(result.logs) <= POLICY.max_output_chars + 100


async def test_cpu_rlimit_backstop_is_reported():
    policy = ExecutionPolicy(timeout_s=10, cpu_s=1, max_operations=10**12)
    result = await run_attack("while True: pass", policy=policy, limit_s=6)
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "CPU" in result.error.message


async def test_worker_killed_from_outside_is_a_crash_then_recovers():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("a = 1")
        worker = ex._worker
        assert worker is not None
        task = asyncio.create_task(ex.run("import time\ntime.sleep(5)"))
        await asyncio.sleep(0.2)
        os.kill(worker.pid, signal.SIGSEGV)  # as the OOM killer or an admin would
        result = await task
        assert result.error is not None and result.error.kind in (ErrorKind.CRASHED, ErrorKind.MEMORY)
        assert result.state_reset
        await assert_recovers(ex)


async def test_worker_dead_while_idle_is_replaced_transparently():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("a = 1")
        assert ex._worker is not None
        ex._worker.kill()
        await ex._worker.wait_exit()
        result = await ex.run("print('after')")
        assert result.ok and result.logs == "after\n"
        assert result.state_reset


async def test_cancelled_run_kills_worker_and_next_run_is_reset():
    async with SandboxedExecutor(POLICY) as ex:
        await ex.run("a = 1")
        task = asyncio.create_task(ex.run("while True: pass"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await ex.run("print('ok')")
        assert result.ok and result.state_reset
