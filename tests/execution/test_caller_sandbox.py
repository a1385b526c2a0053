"""A tool runs code in a fresh namespace of the sandbox that called it (`codeagent.execution.caller`)."""

from __future__ import annotations

import time
from typing import Any

from codeagent.execution.caller import CallerSandbox, SandboxLost, caller_sandbox
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.sandboxed import SandboxedExecutor
from codeagent.execution.types import ErrorKind


async def run_fresh_tool(code: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """A tool that runs `code` in its caller's sandbox and reports what came back."""
    sandbox = caller_sandbox()
    assert sandbox is not None, "called from sandboxed code, the tool must see its caller"
    result = await sandbox.run_fresh(code, timeout_s=timeout_s)
    error = result.error
    return {
        "logs": result.logs,
        "value": result.value,
        "kind": None if error is None else str(error.kind),
        "error": None if error is None else str(error),
    }


async def test_fresh_namespace_own_output_and_the_callers_state_untouched():
    assert caller_sandbox() is None  # not inside a tool call
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5)) as executor:
        await executor.send_tools({"run_fresh": run_fresh_tool})
        await executor.send_variables({"given": 7})
        code = (
            "secret = 41\nprint('outer')\n"
            'inner = run_fresh(\'secret = 1\\nprint("inner", 6 * 7)\\ntry:\\n    given\\n'
            'except NameError:\\n    print("no given")\\n6 * 7\')\n'
            "print(inner['logs'].split())\nprint(inner['value'], secret, given)"
        )
        result = await executor.run(code)
        assert result.ok, result.error
        # Its own output (not mixed into the caller's), none of the caller's variables (given ones included),
        # and its assignments stay in its namespace.
        assert result.logs == "outer\n['inner', '42', 'no', 'given']\n42 41 7\n"
        # Each fresh run starts empty: nothing of an earlier fresh run either.
        again = await executor.run("print(run_fresh('print(secret)')['error'])")
        assert again.ok and "NameError" in again.logs
        failing = await executor.run("print(run_fresh('1 / 0'))")
        assert "ZeroDivisionError" in failing.logs and "'kind': 'runtime'" in failing.logs
        assert (await executor.run("print(secret)")).logs == "41\n"


async def test_a_fresh_run_needs_a_positive_timeout():
    async def no_timeout() -> str:
        sandbox = caller_sandbox()
        assert sandbox is not None
        try:
            await sandbox.run_fresh("1", timeout_s=0)
        except ValueError as exc:
            return str(exc)
        return "ran"

    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5)) as executor:
        await executor.send_tools({"no_timeout": no_timeout})
        result = await executor.run("print(no_timeout())")
        assert result.ok and "timeout_s must be positive" in result.logs


async def test_language_wall_stops_an_endless_fresh_run_and_the_worker_lives_on():
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5)) as executor:
        await executor.send_tools({"run_fresh": run_fresh_tool})
        await executor.run("kept = 'state'")
        started = time.monotonic()
        result = await executor.run("print(run_fresh('while True:\\n    pass', 0.3)['kind'])\nprint(kept)")
        assert result.ok and result.logs == "timeout\nstate\n" and not result.state_reset
        assert time.monotonic() - started < 3


async def test_a_fresh_run_the_sandbox_cannot_stop_costs_the_worker_clearly():
    # Plain Python (no language wall): nothing inside stops an endless loop, so the host kills the worker
    # at the run's timeout plus a grace; the calling action ends with a timeout and its state is gone.
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5, language_wall=False)) as executor:
        await executor.send_tools({"run_fresh": run_fresh_tool})
        await executor.run("kept = 1")
        started = time.monotonic()
        result = await executor.run("print('before')\nrun_fresh('while True:\\n    pass', 0.3)")
        assert time.monotonic() - started < 4
        assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
        assert "did not finish within 0.3 s" in result.error.message and result.state_reset
        after = await executor.run("print(kept)")
        assert after.error is not None and after.error.type == "NameError" and after.state_reset
        # The executor goes on with a fresh worker, fresh runs included.
        again = await executor.run("print(run_fresh('print(2)')['logs'])")
        assert again.ok and again.logs == "2\n\n"


async def test_plain_fresh_runs_start_empty_and_are_main_for_their_run_only():
    # Test programs patch names through __main__ (mock.patch("__main__.f")): each run is __main__ while it
    # runs, and the caller's __main__ comes back afterwards.
    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5, language_wall=False)) as executor:
        await executor.send_tools({"run_fresh": run_fresh_tool})
        inner = (
            "import sys\nmine = 2\nprint(sys.modules['__main__'].mine, hasattr(sys.modules['__main__'], 'x'))"
        )
        outer = f"import sys\nx = 1\nprint(run_fresh({inner!r})['logs'], end='')\n"
        result = await executor.run(outer + "print(sys.modules['__main__'].x)")
        assert result.ok and result.logs == "2 False\n1\n", result
        again = await executor.run("print(run_fresh('print(mine)')['error'])")
        assert again.ok and "NameError" in again.logs


async def test_the_caller_sandbox_only_serves_during_its_call():
    kept: list[CallerSandbox] = []

    async def keep() -> str:
        sandbox = caller_sandbox()
        assert sandbox is not None
        kept.append(sandbox)
        return "kept"

    async with SandboxedExecutor(ExecutionPolicy(timeout_s=5)) as executor:
        await executor.send_tools({"keep": keep})
        assert (await executor.run("keep()")).ok
    try:
        await kept[0].run_fresh("1", timeout_s=1)
    except RuntimeError as exc:
        assert "during the tool call" in str(exc)
        assert not isinstance(exc, SandboxLost)
    else:
        raise AssertionError("a caller sandbox used after its call must refuse")
