"""What a code action may do: the language-wall policy and the OS-wall limits, as one validated object.

The policy travels to the sandboxed worker as JSON (`to_dict` / `from_dict`). Stdlib only, because the worker
imports it and its start time matters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: Standard-library modules that are safe to expose (through proxies) by default.
DEFAULT_AUTHORIZED_IMPORTS: tuple[str, ...] = (
    "math",
    "cmath",
    "random",
    "statistics",
    "re",
    "json",
    "datetime",
    "time",
    "calendar",
    "collections",
    "collections.abc",
    "itertools",
    "functools",
    "operator",
    "string",
    "textwrap",
    "unicodedata",
    "decimal",
    "fractions",
    "heapq",
    "bisect",
    "copy",
    "dataclasses",
    "enum",
    "typing",
    "numbers",
    "difflib",
    "hashlib",
    "base64",
    "zoneinfo",
    "csv",
    "pprint",
)


@dataclass(frozen=True)
class ExecutionPolicy:
    """Limits and permissions for running untrusted code actions.

    Example:
        >>> policy = ExecutionPolicy(authorized_imports=("numpy.*", "math"), timeout_s=10)
        >>> policy.memory_mb
        1024
    """

    # --- language wall -------------------------------------------------------------------------
    #: Modules the code may import. `pkg.*` allows `pkg` and all its submodules; `*` allows everything
    #: (still proxied, still with the deny-list).
    authorized_imports: tuple[str, ...] = DEFAULT_AUTHORIZED_IMPORTS
    #: Dangerous functions of allowed packages the user explicitly re-enables, as dotted names
    #: (e.g. "pandas.read_csv", "numpy.load").
    allowed_dangerous_functions: tuple[str, ...] = ()
    #: Operation budget: loop iterations, function calls and other counted checkpoints per action.
    max_operations: int = 50_000_000
    #: Printed output per action, in characters; enforced while printing.
    max_output_chars: int = 50_000
    #: Maximum Python call depth of the code.
    max_recursion_depth: int = 400

    #: False: run plain CPython (no AST rewriting, all builtins and imports) inside the OS wall alone. Only
    #: for trusted programs that need full Python, such as a benchmark's hidden unit tests; the sandboxed
    #: executor then insists on bubblewrap and seccomp, and the in-process executor refuses it.
    language_wall: bool = True

    # --- OS wall (ignored by the in-process executor, except timeout_s) -------------------------
    #: Wall-clock seconds per action; the host kills the worker when it runs out.
    timeout_s: float = 30.0
    #: Address-space limit of the worker, MiB.
    memory_mb: int = 1024
    #: CPU seconds per worker (RLIMIT_CPU), a backstop beside the wall clock.
    cpu_s: int = 300
    #: Largest file the worker may write, MiB (in its private tmp).
    file_size_mb: int = 64
    #: Max processes/threads the worker may have.
    max_processes: int = 64
    #: Largest JSON message (tool arguments, tool results, final value) crossing the bridge, bytes.
    max_message_bytes: int = 16 * 1024 * 1024
    #: Allow the worker network access (off by default; tools on the host have the network).
    network: bool = False

    def __post_init__(self) -> None:
        # Accept lists from callers and JSON, store tuples (hashable, immutable).
        object.__setattr__(self, "authorized_imports", tuple(self.authorized_imports))
        object.__setattr__(self, "allowed_dangerous_functions", tuple(self.allowed_dangerous_functions))
        positive = ("max_operations", "max_output_chars", "timeout_s", "memory_mb", "cpu_s", "max_processes")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"ExecutionPolicy.{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_recursion_depth < 20:
            depth = self.max_recursion_depth
            raise ValueError(f"ExecutionPolicy.max_recursion_depth must be >= 20, got {depth}")
        if self.file_size_mb < 0:
            raise ValueError("ExecutionPolicy.file_size_mb must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: that deep-copies every tuple, and this runs once per sandboxed executor.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionPolicy:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ExecutionPolicy fields: {sorted(unknown)}")
        return cls(**data)
