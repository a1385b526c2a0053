"""The OS wall, host side: the command line that starts a worker, in bubblewrap or (fallback) without.

bubblewrap flags (see `bwrap_args`):

* ``--unshare-all`` (user, pid, ipc, uts, cgroup and **net** namespaces; ``--share-net`` only if
  ``policy.network``), ``--disable-userns`` (no nested namespaces), ``--cap-drop ALL``,
  ``--uid/--gid 65534`` (nobody inside), ``--new-session`` (no TIOCSTI on the host terminal),
  ``--die-with-parent`` (a dead host takes its workers with it).
* A fresh root holding only read-only binds of what Python needs: ``/usr`` (and the ``/lib*``, ``/bin``
  symlinks), the base interpreter prefix, the site-packages directories on ``sys.path``, the ``codeagent``
  package directory itself, and ``/etc/ld.so.cache`` + ``/etc/localtime``. Not ``/root``, ``/home``,
  ``/work`` or the rest of ``/etc``.
* ``--proc /proc``, ``--dev /dev``, a private size-capped tmpfs at ``/tmp`` (also the working directory and
  ``$HOME``), then ``--remount-ro`` of ``/`` and ``/dev`` (their tmpfs has no size cap) and of ``/proc``
  (see below), ``--clearenv`` with a minimal environment, and ``python -I -S -B`` (isolated, no ``site``, no
  bytecode writes) with an explicit ``sys.path``.
* ``/proc`` read-only: when the host runs as root, the sandbox uid maps to host uid 0, and the kernel lets
  that uid write *global* sysctls under ``/proc/sys`` even without capabilities (``kernel.core_pattern``
  names a program the kernel runs as root). bubblewrap only covers ``/proc/sys`` when the directory itself
  is writable, which it is not.

Without bubblewrap (or when namespaces are unavailable) the same worker runs as a plain subprocess in a
private temporary directory, with the same rlimits and seccomp filter, and a warning is logged once.

The seccomp filter is compiled on the host (`codeagent.execution.worker.seccomp`) and loaded by the worker
itself after its imports.

With ``SpawnSpec.fork_server`` (the default with bubblewrap) workers are not started one sandbox each: one
sandbox runs the fork server (`codeagent.execution.worker.zygote`), started with the same flags plus
``--cap-add CAP_SYS_ADMIN`` (capabilities of the sandbox's own user namespace, so that each forked worker
can mount its private /tmp before it drops them all), and forks isolated workers in ~3.5 ms instead of ~60 ms.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("codeagent.execution.sandbox")

#: uid/gid the code runs as inside the sandbox ("nobody").
SANDBOX_UID = 65534
#: Minimal environment of the worker (after --clearenv / env={}).
WORKER_ENV: dict[str, str] = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    # One BLAS/OpenMP thread: threads multiply address space (RLIMIT_AS) and the budget is per action.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
#: Bootstrap run with ``python -I -S -B -c``: sets sys.path from argv and enters the worker loop.
BOOTSTRAP = "import sys;sys.path[0:0]=sys.argv[1:];from codeagent.execution.worker.main import main;main()"
#: The same for the fork server.
ZYGOTE_BOOTSTRAP = BOOTSTRAP.replace("worker.main", "worker.zygote")


class SandboxUnavailable(RuntimeError):
    """The OS sandbox was required (``require_sandbox=True``) but cannot be had here."""


@dataclass(frozen=True)
class SpawnSpec:
    """Everything that decides how a worker is started; workers are pooled per spec."""

    use_bwrap: bool
    network: bool = False
    tmp_size_mb: int = 256
    seccomp: bool = True
    test_hooks: bool = False
    #: Fork workers from a fork server in one bubblewrap sandbox (~3.5 ms each) instead of starting a
    #: sandbox per worker (~60 ms); ignored without bubblewrap or seccomp (which keeps siblings apart).
    fork_server: bool = True


@dataclass(frozen=True)
class SandboxStatus:
    """What this host can offer: bubblewrap (path or None), seccomp, and why not when not."""

    bwrap: str | None
    seccomp: bool
    reason: str = ""

    @property
    def full(self) -> bool:
        return self.bwrap is not None and self.seccomp


# --- paths the worker needs ---------------------------------------------------------------------


def python_executable() -> str:
    """The real interpreter binary (venv ``bin/python`` is a symlink to the base one)."""
    return os.path.realpath(sys.executable)


def codeagent_package_dir() -> Path:
    import codeagent

    return Path(codeagent.__file__).resolve().parent


@functools.cache
def worker_sys_path() -> tuple[str, ...]:
    """Entries prepended to the worker's sys.path: codeagent's parent, then site-packages dirs.

    The stdlib comes from the interpreter's own defaults (``-S`` still computes them). User site-packages
    are left out, as are the cwd and script directories the host may have on its path.
    """
    entries = [str(codeagent_package_dir().parent)]
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE is not False else ""
    for entry in sys.path:
        path = os.path.realpath(entry) if entry else ""
        candidate = Path(path) if path else None
        if candidate is None or path in entries or path == user_site:
            continue
        if candidate.name in _SITE_DIRS and candidate.is_dir():
            entries.append(path)
    return tuple(entries)


_SITE_DIRS = ("site-packages", "dist-packages")


def _ro_binds() -> list[str]:
    """Read-only bind paths besides the system dirs: interpreter prefix, site-packages, codeagent."""
    binds: list[str] = []
    prefix = os.path.realpath(sys.base_prefix)
    candidates = [prefix, str(Path(python_executable()).parent)]
    candidates += list(worker_sys_path()[1:])
    candidates.append(str(codeagent_package_dir()))
    for path in candidates:
        if not any(path == b or path.startswith(b.rstrip("/") + "/") for b in binds + _SYSTEM_DIRS_BOUND):
            binds.append(path)
    return binds


_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
_SYSTEM_DIRS_BOUND = ["/usr"]  # paths under these are already visible (read-only)
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_ETC_NETWORK_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
)


def bwrap_args(bwrap: str, spec: SpawnSpec, fork_server: bool = False) -> list[str]:
    """The bubblewrap part of the worker command line (see the module docstring for why each flag)."""
    args = [bwrap, "--unshare-all", "--unshare-user"]
    if spec.network:
        args.append("--share-net")
    args += [
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        # The fork server is the sandbox's pid 1 (no bubblewrap init beside it, dumpable and unfiltered,
        # that children could reach through /proc/1); when it exits, the kernel kills every worker.
        *(["--cap-add", "CAP_SYS_ADMIN", "--as-pid-1"] if fork_server else []),
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
    ]
    # The private /tmp first: binds below may lie under /tmp (a checkout or venv there) and must be
    # mounted on top of it, not hidden by it.
    args += ["--size", str(spec.tmp_size_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp"]
    for path in _SYSTEM_DIRS:
        system_dir = Path(path)
        if system_dir.is_symlink():
            args += ["--symlink", str(system_dir.readlink()), path]
        elif system_dir.is_dir():
            args += ["--ro-bind", path, path]
    for path in _ETC_FILES + (_ETC_NETWORK_FILES if spec.network else ()):
        args += ["--ro-bind-try", path, path]
    for path in _ro_binds():
        args += ["--ro-bind", path, path]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # The new root and /dev are tmpfs mounts without a size cap: read-only, or code could fill the
        # host's memory with files there. /tmp (capped) stays the only writable place; device nodes such as
        # /dev/null stay writable on a read-only mount. /proc: global sysctls (see the module docstring).
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/proc",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--clearenv",
    ]
    for key, value in WORKER_ENV.items():
        args += ["--setenv", key, value]
    return [*args, "--"]


def python_args(bootstrap: str = BOOTSTRAP) -> list[str]:
    return [python_executable(), "-I", "-S", "-B", "-c", bootstrap, *worker_sys_path()]


def worker_command(spec: SpawnSpec) -> list[str]:
    """Full argv of a worker for ``spec`` (bwrap + python, or python alone in the fallback)."""
    if spec.use_bwrap:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        return bwrap_args(bwrap, spec) + python_args()
    return python_args()


def zygote_command(spec: SpawnSpec) -> list[str]:
    """Full argv of the fork server for ``spec`` (always in bubblewrap)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    return bwrap_args(bwrap, spec, fork_server=True) + python_args(ZYGOTE_BOOTSTRAP)


@functools.cache
def ensure_bytecode() -> None:
    """Compile codeagent's worker-side modules to ``__pycache__`` once, if the package dir is writable.

    The worker runs with ``-B`` on a read-only bind, so it can never cache bytecode itself; without .pyc
    files every cold start would recompile codeagent's modules (~15 ms). Editable installs and hosts with
    PYTHONDONTWRITEBYTECODE set are the usual cause. Wheel installs already ship compiled files.
    """
    pkg = codeagent_package_dir()
    if not os.access(pkg, os.W_OK):
        return
    import compileall

    try:
        compileall.compile_file(str(pkg / "__init__.py"), quiet=2)
        compileall.compile_dir(str(pkg / "execution"), quiet=2)
    except OSError as exc:
        log.debug("could not pre-compile worker modules: %s", exc)


# --- capability probes ----------------------------------------------------------------------------


@functools.cache
def probe_bwrap() -> tuple[str | None, str]:
    """(path, "") when bubblewrap can start the real worker interpreter here, else (None, reason)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap (bwrap) is not installed"
    cmd = [*bwrap_args(bwrap, SpawnSpec(use_bwrap=True)), python_executable(), "-I", "-S", "-c", "pass"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()[:500]
        return None, f"bubblewrap cannot create the sandbox here (namespaces unavailable?): {detail}"
    return bwrap, ""


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Probe (once, cached) what this host offers."""
    bwrap, reason = probe_bwrap()
    from codeagent.execution.worker.seccomp import seccomp_program

    seccomp = seccomp_program(False) is not None
    if not seccomp:
        reason = "; ".join(r for r in (reason, "seccomp unavailable (install the 'seccomp' extra)") if r)
    return SandboxStatus(bwrap=bwrap, seccomp=seccomp, reason=reason)


def sandbox_status_known() -> bool:
    """Whether `sandbox_status` has been probed already (then calling it costs nothing)."""
    return sandbox_status.cache_info().currsize > 0


_warned = False


def warn_fallback(reason: str) -> None:
    """Log, once per process, that workers run without bubblewrap."""
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "codeagent: running code actions WITHOUT the bubblewrap sandbox (%s); only rlimits, seccomp "
            "and the language wall protect this host. Install bubblewrap or pass require_sandbox=True.",
            reason,
        )
