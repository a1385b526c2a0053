"""The warm pool: booted, idle workers ready to be handed to an executor at once.

One pool per `SpawnSpec`, shared process-wide: every `SandboxedExecutor` with the same sandbox settings
draws from it, and each worker serves exactly one executor (it is never returned: its state is dirty).

A single daemon thread per pool spawns and boots workers. Why a thread: the pool must outlive any one
event loop (tests and sync wrappers create many), and bubblewrap's ``--die-with-parent`` is tied to the
*thread* that spawned it, so spawns must come from a thread that lives as long as the process. The thread
spawns everything it needs in one go (``Popen`` is ~1 ms), then completes the boot handshakes, so many
executors starting at once boot in parallel. Idle workers are already importing-done, seccomp-filtered and
waiting; ``init`` (rlimits, tools, variables) happens when an executor takes one.

With bubblewrap, workers are forked by the spec's fork server (`codeagent.execution.worker.forkserver`), ~3.5
ms each instead of ~60 ms; where the fork server cannot run, the pool says so once (a warning) and starts a
sandbox per worker instead.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import os
import resource
import threading
import time
from typing import Any

from codeagent.execution.worker.forkserver import ForkServer, ForkServerUnavailable
from codeagent.execution.worker.main import policy_key
from codeagent.execution.worker.process import WorkerProcess, WorkerStartError
from codeagent.execution.worker.sandbox import SpawnSpec, ensure_bytecode
from codeagent.execution.worker.zygote import MAX_TEMPLATES

log = logging.getLogger("codeagent.execution.pool")

#: Seconds a worker may take from spawn to ``ready`` (generous: 64 workers booting on 2 cores).
BOOT_TIMEOUT_S = 60.0
#: Policies whose runners a fork server prepares, at most (the fork server's own cap).
_MAX_POLICIES = MAX_TEMPLATES
#: Default number of idle workers kept ready per spec.
DEFAULT_MIN_IDLE = 1


class WorkerPool:
    """Keeps ``min_idle`` booted workers for one spec; `acquire` hands one out (or boots one on demand).

    Example:
        >>> async def demo() -> None:
        ...     worker = await get_pool(SpawnSpec(use_bwrap=False)).acquire()
        ...     worker.kill()
    """

    def __init__(self, spec: SpawnSpec, min_idle: int = DEFAULT_MIN_IDLE) -> None:
        self.spec = spec
        self.min_idle = min_idle
        self._idle: collections.deque[WorkerProcess] = collections.deque()
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[WorkerProcess]]] = (
            collections.deque()
        )
        self._to_reap: list[WorkerProcess] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.spawned = 0
        self._fork_server: ForkServer | None = None
        self._policies: dict[str, dict[str, Any]] = {}
        #: Why the fork server cannot be used here (then every worker gets a sandbox of its own).
        self.fork_server_unavailable: str | None = None

    # --- API used by executors ----------------------------------------------------------------------

    async def acquire(self) -> WorkerProcess:
        """A booted worker for the caller alone; raises `WorkerStartError` if one cannot be started."""
        loop = asyncio.get_running_loop()
        with self._cond:
            self._ensure_thread()
            while self._idle:
                worker = self._idle.popleft()
                if worker.alive():
                    self._cond.notify()  # refill in the background
                    return worker
                self._to_reap.append(worker)
            fut: asyncio.Future[WorkerProcess] = loop.create_future()
            self._waiters.append((loop, fut))
            self._cond.notify()
        try:
            # The pool thread bounds each boot by BOOT_TIMEOUT_S; this is only a safety net.
            return await asyncio.wait_for(fut, 2 * BOOT_TIMEOUT_S)
        except TimeoutError:
            raise WorkerStartError("no worker became available in time") from None

    def note_policy(self, policy: dict[str, Any]) -> None:
        """An executor of this pool runs with ``policy``: the fork server prepares a runner for it (once per
        policy; the `_MAX_POLICIES` latest are kept, and a restarted server is told them again)."""
        key = policy_key(policy)
        with self._cond:
            if key in self._policies:
                return
            if len(self._policies) >= _MAX_POLICIES:
                self._policies.pop(next(iter(self._policies)))  # the fork server drops the same one
            self._policies[key] = policy
            server = self._fork_server
        if server is not None and server.alive():
            server.prepare(policy)

    def discard(self, worker: WorkerProcess) -> None:
        """Kill a worker (if still running) and let the pool thread reap it; never blocks."""
        worker.kill()
        with self._cond:
            if self._stopped or self._thread is None:
                worker.reap(timeout=1.0)
                return
            self._to_reap.append(worker)
            self._cond.notify()

    def set_min_idle(self, min_idle: int) -> None:
        with self._cond:
            self.min_idle = max(0, min_idle)
            self._ensure_thread()
            self._cond.notify()

    def idle_count(self) -> int:
        with self._cond:
            return len(self._idle)

    def shutdown(self) -> None:
        """Kill idle workers and stop the thread (at exit)."""
        with self._cond:
            self._stopped = True
            idle = list(self._idle) + self._to_reap
            self._idle.clear()
            self._to_reap.clear()
            waiters = list(self._waiters)
            self._waiters.clear()
            # First, while the thread that started it still lives (its death kills bubblewrap with
            # SIGKILL): the fork server's children die with it and are reported dead.
            if self._fork_server is not None:
                self._fork_server.shutdown()
            self._cond.notify_all()
        for worker in idle:
            worker.kill()
        for worker in idle:
            worker.reap(timeout=1.0)
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, fut, WorkerStartError("the worker pool was shut down"))

    # --- the pool thread ----------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._stopped:
            raise_fd_limit()
            self._thread = threading.Thread(target=self._run, name="codeagent-worker-pool", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            ensure_bytecode()
        except Exception:  # never fatal: only start-up speed depends on it
            log.debug("codeagent: pre-compiling worker modules failed", exc_info=True)
        backoff = 0.0
        retry_at = 0.0  # after failed starts, wait before refilling the idle reserve again
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    refill = time.monotonic() >= retry_at
                    needed = self._needed(refill)
                    if self._to_reap or needed > 0:
                        break
                    self._cond.wait(None if refill else retry_at - time.monotonic())
                reap, self._to_reap = self._to_reap, []
            try:
                for worker in reap:
                    worker.reap(timeout=5.0)
                if needed > 0 and not self._spawn_batch(needed):
                    backoff = min(max(0.5, backoff * 2), 30.0)
                    retry_at = time.monotonic() + backoff
                elif needed > 0:
                    backoff, retry_at = 0.0, 0.0
            except Exception as exc:  # the thread must survive anything, or acquire() would hang
                log.exception("codeagent: worker pool error")
                self._fail_waiters(WorkerStartError(f"worker pool error: {exc}"))
                retry_at = time.monotonic() + 1.0

    def _needed(self, refill: bool = True) -> int:
        return len(self._waiters) + (self.min_idle if refill else 0) - len(self._idle)

    def _spawn_batch(self, count: int) -> bool:
        """Start ``count`` workers and complete their boots; False if any failed."""
        booting: list[WorkerProcess] = []
        errors: list[Exception] = []
        while len(booting) < count:
            try:
                started = self._spawn_some(count - len(booting))
            except WorkerStartError as exc:
                errors.append(exc)
                break
            booting += started
            self.spawned += len(started)
        for worker in booting:
            try:
                worker.wait_ready(BOOT_TIMEOUT_S)
            except WorkerStartError as exc:
                errors.append(exc)
                worker.reap(timeout=1.0)
                continue
            self._deliver(worker)
        if errors:
            if not self._stopped:  # at shutdown a start cut short is expected, not worth a line
                log.error("codeagent: worker start failed: %s", errors[0])
            # Fail current waiters rather than retrying forever; the next acquire tries again.
            self._fail_waiters(errors[0])
        return not errors

    def _spawn_some(self, count: int) -> list[WorkerProcess]:
        """One or more (up to ``count``) new workers, forked in one go where there is a fork server."""
        server = self._usable_fork_server()
        if server is None:
            return [WorkerProcess.spawn(self.spec)]
        try:
            workers, problem = server.spawn_many(count)
        except WorkerStartError:
            if server.alive():
                raise
            # The fork server died under us (its reason is logged): one more try with a new one.
            server = self._usable_fork_server()
            if server is None:
                return [WorkerProcess.spawn(self.spec)]
            workers, problem = server.spawn_many(count)
        if not workers:
            raise WorkerStartError(f"the fork server could not fork: {problem}")
        if problem:  # some forked: boot those; the next refill tries again for the rest
            log.warning(
                "codeagent: the fork server forked %d of %d workers: %s", len(workers), count, problem
            )
        return workers

    def _usable_fork_server(self) -> ForkServer | None:
        """This spec's fork server, (re)started if needed; None when workers get a sandbox each."""
        # Without seccomp nothing would keep siblings from signalling each other: a sandbox each, then.
        usable = self.spec.use_bwrap and self.spec.seccomp and self.spec.fork_server
        if not usable or self.fork_server_unavailable:
            return None
        if self._stopped:
            raise WorkerStartError("the worker pool was shut down")
        if self._fork_server is not None and not self._fork_server.alive():
            log.warning("codeagent: the fork server died; starting a new one")
            self._fork_server.shutdown()
            self._fork_server = None
        if self._fork_server is None:
            try:
                server = ForkServer(self.spec)
            except ForkServerUnavailable as exc:
                self.fork_server_unavailable = str(exc)
                log.warning("codeagent: %s; starting a sandbox per worker instead (~60 ms each)", exc)
                return None
            with self._cond:
                self._fork_server = server
                policies = list(self._policies.values())
            for policy in policies:
                server.prepare(policy)
        return self._fork_server

    @property
    def fork_server(self) -> ForkServer | None:
        """The running fork server, if any (for diagnostics and tests)."""
        return self._fork_server

    def _fail_waiters(self, exc: Exception) -> None:
        with self._cond:
            waiters = list(self._waiters)
            self._waiters.clear()
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, fut, exc)

    def _deliver(self, worker: WorkerProcess) -> None:
        with self._cond:
            while self._waiters:
                loop, fut = self._waiters.popleft()
                if fut.done() or loop.is_closed():
                    continue
                try:
                    loop.call_soon_threadsafe(self._hand_over, fut, worker)
                except RuntimeError:  # loop closed in between
                    continue
                return
            self._idle.append(worker)

    def _hand_over(self, fut: asyncio.Future[WorkerProcess], worker: WorkerProcess) -> None:
        # Runs in the waiter's loop. If the waiter gave up meanwhile, keep the worker for someone else.
        if fut.done():
            with self._cond:
                self._idle.append(worker)
            return
        fut.set_result(worker)


#: Most fds `raise_fd_limit` asks for: ~16,000 workers' worth.
FD_LIMIT_WANTED = 1 << 16


def raise_fd_limit() -> None:
    """Raise this process's soft limit of open fds to its hard limit (at most `FD_LIMIT_WANTED`).

    Each live worker holds ~4 of the host's fds (pipes, stderr, pidfd), idle ones in the pool included: at
    64 concurrent coding tasks (two sandboxes each) the host has ~900 open, and the common default soft
    limit is 1024. Raising the soft limit up to the hard one needs no privilege.
    """
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = FD_LIMIT_WANTED if hard == resource.RLIM_INFINITY else min(hard, FD_LIMIT_WANTED)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:  # not fatal: many workers at once would fail with a clear EMFILE
        log.debug("codeagent: could not raise the open-file limit: %s", exc)


def _fail(fut: asyncio.Future[WorkerProcess], exc: Exception) -> None:
    if not fut.done():
        fut.set_exception(exc)


_pools: dict[SpawnSpec, WorkerPool] = {}
_pools_lock = threading.Lock()
_pools_pid = os.getpid()


def get_pool(spec: SpawnSpec) -> WorkerPool:
    """The process-wide pool for ``spec`` (created on first use)."""
    global _pools_pid
    with _pools_lock:
        if _pools_pid != os.getpid():  # forked host: the parent's pool threads do not exist here
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(spec)
        if pool is None:
            pool = _pools[spec] = WorkerPool(spec, min_idle=DEFAULT_MIN_IDLE)
        return pool


def configure_pools(min_idle: int) -> None:
    """Set how many idle workers every pool keeps ready (e.g. the number of concurrent agents)."""
    global DEFAULT_MIN_IDLE
    DEFAULT_MIN_IDLE = min_idle
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.set_min_idle(min_idle)


@atexit.register
def shutdown_pools() -> None:
    """Kill every idle worker of every pool (registered at exit)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.shutdown()
