"""Running code actions: the language wall (in the worker) and the OS wall (around it)."""

from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.execution.types import (
    ErrorKind,
    ExecutionError,
    ExecutionResult,
    Executor,
    ToolCallError,
    ToolFunction,
    cancel_start,
    start_in_background,
)

__all__ = [
    "DEFAULT_AUTHORIZED_IMPORTS",
    "ErrorKind",
    "ExecutionError",
    "ExecutionPolicy",
    "ExecutionResult",
    "Executor",
    "ToolCallError",
    "ToolFunction",
    "cancel_start",
    "start_in_background",
]
