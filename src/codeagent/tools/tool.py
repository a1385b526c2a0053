"""`Tool` (a base class satisfying the `codeagent.tools.types.Tool` protocol), `FunctionTool` and `@tool`.

A tool is called two ways, and both go through `__call__(*args, **kwargs)`:

- by a code action, through the executor bridge: `search("llamas", limit=3)` (positional arguments allowed);
- by a tool-calling agent, with the JSON arguments of a `ToolCall`: `await tool(**call.arguments)`.

Arguments are validated first; anything wrong raises `ToolArgumentError` (a `ToolCallError`) whose message
names the argument, the problem and the signature, so the model can fix its call. If the tool itself raises,
the error is wrapped in `ToolExecutionError` (original as `__cause__`), except `ToolCallError`s, which a tool
may raise on purpose with a message for the model and which pass through unchanged.

Results are returned as they are (a pydantic model stays a model on the host); code that must cross a JSON
boundary uses `codeagent.tools.to_jsonable`.
"""

from __future__ import annotations

import asyncio
import builtins
import difflib
import functools
import inspect
import keyword
import reprlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, overload

from pydantic import ValidationError

from codeagent.execution.types import ToolCallError
from codeagent.models.types import ToolSpec
from codeagent.tools.errors import ToolArgumentError, ToolDefinitionError, ToolExecutionError
from codeagent.tools.render import python_signature, signature_line
from codeagent.tools.schema import FunctionSchema, function_schema
from codeagent.tools.types import Tool as ToolLike

#: Names a tool may not take: the code agent calls tools as functions, and shadowing `print` or `len`
#: breaks the model's code in confusing ways.
RESERVED_NAMES: frozenset[str] = frozenset(name for name in dir(builtins) if not name.startswith("_"))
_MAX_NAME_LENGTH = 64  # OpenAI's limit for function names; other APIs are at least as strict
_MAX_PROBLEMS = 5

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxdict = 6


def validate_tool_name(name: str) -> str:
    """Check that `name` can be a tool's name: a Python identifier, no keyword, no builtin, at most 64 chars.

    Example:
        >>> validate_tool_name("web_search")
        'web_search'
        >>> validate_tool_name("print")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        codeagent.tools.errors.ToolDefinitionError: tool name 'print' would shadow the Python builtin...
    """
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ToolDefinitionError(
            f"tool name {name!r} must be a valid Python identifier (letters, digits, _)"
        )
    if name in RESERVED_NAMES:
        raise ToolDefinitionError(
            f"tool name {name!r} would shadow the Python builtin {name}(); choose another name"
        )
    if name.startswith("__"):
        raise ToolDefinitionError(f"tool name {name!r} must not start with '__'")
    if len(name) > _MAX_NAME_LENGTH:
        raise ToolDefinitionError(f"tool name {name!r} is longer than {_MAX_NAME_LENGTH} characters")
    return name


class Tool:
    """Base class of tools. Subclasses implement `run(arguments)`; `FunctionTool` wraps a Python function.

    The base class validates only the presence of required arguments and the absence of unknown ones
    (from `input_schema`); subclasses with a richer validator override `validate_arguments`. Adapters for
    tools that only come with a JSON schema (MCP servers, later) subclass this directly.

    Example:
        >>> class Echo(Tool):
        ...     def __init__(self) -> None:
        ...         schema = {"properties": {"text": {"type": "string"}}, "required": ["text"]}
        ...         super().__init__(name="echo", description="Repeat the text.", input_schema=schema)
        ...     async def run(self, arguments: dict[str, Any]) -> Any:
        ...         return arguments["text"]
        >>> asyncio.run(Echo()("hi"))
        'hi'
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    output_type: str
    #: JSON schema of the result, when known; `python_signature` renders it.
    output_schema: dict[str, Any] | None
    #: What the result is, in words (e.g. the docstring's "Returns:" section).
    output_description: str | None

    def __init__(
        self,
        *,
        name: str,
        description: str = "",
        input_schema: Mapping[str, Any] | None = None,
        output_type: str = "any",
        output_schema: Mapping[str, Any] | None = None,
        output_description: str | None = None,
    ) -> None:
        self.name = validate_tool_name(name)
        self.description = description
        schema = dict(input_schema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        self.input_schema = schema
        self.output_type = output_type
        self.output_schema = dict(output_schema) if output_schema is not None else None
        self.output_description = output_description

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        docstring_format: str = "auto",
        run_in_thread: bool = True,
    ) -> FunctionTool:
        """Build a tool from a plain (sync or async) function; same as `@tool`.

        Example:
            >>> def add(a: int, b: int) -> int:
            ...     '''Add two integers.'''
            ...     return a + b
            >>> Tool.from_function(add).python_signature()
            'def add(a: int, b: int) -> int:\\n    \"\"\"Add two integers.\"\"\"'
        """
        return FunctionTool(
            function,
            name=name,
            description=description,
            docstring_format=docstring_format,
            run_in_thread=run_in_thread,
        )

    # ---- the protocol ---------------------------------------------------------------------------
    async def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        arguments = self.validate_arguments(self.bind_arguments(args, kwargs))
        try:
            return await self.run(arguments)
        except ToolCallError:
            raise  # already phrased for the model
        except Exception as exc:
            raise ToolExecutionError(self.name, exc) from exc

    def spec(self) -> ToolSpec:
        """What a tool-calling model is told: name, description, JSON schema of the arguments."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.input_schema)

    # ---- for subclasses -------------------------------------------------------------------------
    async def run(self, arguments: dict[str, Any]) -> Any:
        """Run the tool with validated arguments (by name). Subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def positional_names(self) -> list[str]:
        """Names that positional arguments bind to, in order."""
        return list(self.input_schema.get("properties", {}))

    def bind_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to a dict by name, like a Python call would."""
        names = self.positional_names()
        if len(args) > len(names):
            taken = f"{len(names)} positional argument{'s' if len(names) != 1 else ''}"
            self._fail([f"takes {taken} but {len(args)} were given"])
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key in bound:
                self._fail([f"got multiple values for argument {key!r}"])
            bound[key] = value
        return bound

    def validate_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check required and unknown arguments against `input_schema`; return the arguments to run with."""
        properties = self.input_schema.get("properties", {})
        problems = [
            f"missing required argument {name!r}"
            for name in self.input_schema.get("required", [])
            if name not in arguments
        ]
        if properties or self.input_schema.get("additionalProperties") is False:
            problems += [_unexpected(key, list(properties)) for key in arguments if key not in properties]
        if problems:
            self._fail(problems)
        return arguments

    def signature(self) -> str:
        """One-line call signature, e.g. `search(query: str, limit: int = 5) -> list[str]`."""
        return signature_line(self, keyword_only=self._keyword_only())

    def python_signature(self) -> str:
        """The tool as a Python stub with a short docstring, for the CodeAgent's prompt."""
        return python_signature(self, keyword_only=self._keyword_only())

    def _keyword_only(self) -> frozenset[str]:
        return frozenset()

    def _fail(self, problems: Sequence[str]) -> Any:
        raise ToolArgumentError(self.name, problems, self.signature())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.signature()!r})"


class FunctionTool(Tool):
    """A tool made from a Python function: schema from the type hints and docstring, validation by pydantic.

    Sync functions run in a worker thread by default (`run_in_thread=True`) so that a blocking tool (an
    HTTP request, a file read) does not stall other runs sharing the event loop; pass False for cheap,
    CPU-only functions. Async functions are awaited.

    Example:
        >>> async def search(query: str, limit: int = 5) -> list[str]:
        ...     '''Search the web.
        ...
        ...     Args:
        ...         query: What to look for.
        ...         limit: How many results.
        ...     '''
        ...     return [f"{query} {i}" for i in range(limit)]
        >>> t = FunctionTool(search)
        >>> asyncio.run(t("llamas", limit="2"))  # lax validation: "2" -> 2
        ['llamas 0', 'llamas 1']
        >>> try:
        ...     asyncio.run(t("llamas", limit="two"))
        ... except ToolArgumentError as err:
        ...     print(err)
        search() argument 'limit': Input should be a valid integer, unable to parse string as an integer, \
got 'two'. Signature: search(query: str, limit: int = 5) -> list[str]
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        docstring_format: str = "auto",
        run_in_thread: bool = True,
    ) -> None:
        schema = function_schema(
            function, name=name, description=description, docstring_format=docstring_format
        )
        super().__init__(
            name=schema.name,
            description=schema.description,
            input_schema=schema.input_schema,
            output_type=schema.output_type,
            output_schema=schema.output_schema,
            output_description=schema.output_description,
        )
        self.function = function
        self.schema: FunctionSchema = schema
        self.run_in_thread = run_in_thread
        target = function if inspect.isroutine(function) else getattr(function, "__call__", function)  # noqa: B004
        self.is_async = inspect.iscoroutinefunction(target)
        # Look like the function to introspection (help(), inspect.signature(), documentation tools).
        functools.update_wrapper(self, function, updated=())

    def positional_names(self) -> list[str]:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in self.schema.params if p.kind in positional]

    def _keyword_only(self) -> frozenset[str]:
        return frozenset(p.name for p in self.schema.params if p.kind is inspect.Parameter.KEYWORD_ONLY)

    def validate_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            model = self.schema.args_model.model_validate(arguments)
        except ValidationError as exc:
            self._fail(describe_validation_errors(exc, [p.name for p in self.schema.params]))
        # getattr, not model_dump: a pydantic-model argument must reach the function as a model, not a dict.
        return {p.name: getattr(model, p.field) for p in self.schema.params}

    async def run(self, arguments: dict[str, Any]) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.schema.params:
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(arguments[param.name])
            else:
                kwargs[param.name] = arguments[param.name]
        if self.is_async:
            result = await self.function(*args, **kwargs)
        elif self.run_in_thread:
            result = await asyncio.to_thread(self.function, *args, **kwargs)
        else:
            result = self.function(*args, **kwargs)
        if inspect.isawaitable(result):  # a sync function that returns a coroutine (e.g. a partial of one)
            result = await result
        return result


def describe_validation_errors(exc: ValidationError, known: Sequence[str]) -> list[str]:
    """Turn a pydantic `ValidationError` into short problems phrased for a model, one per argument."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc", ())
        kind = error.get("type", "")
        name = str(loc[0]) if loc else ""
        path = repr(name) + "".join(f"[{part!r}]" for part in loc[1:])
        if kind == "missing" and len(loc) == 1:
            problem = f"missing required argument {name!r}"
        elif kind == "extra_forbidden" and len(loc) == 1:
            problem = _unexpected(name, known)
        elif kind == "missing":
            problem = f"argument {path}: missing"
        else:
            problem = (
                f"argument {path}: {error.get('msg', 'invalid value')}, got {_repr.repr(error.get('input'))}"
            )
        if problem not in problems:
            problems.append(problem)
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], f"and {len(problems) - _MAX_PROBLEMS} more problems"]
    return problems


def _unexpected(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"got an unexpected argument {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


@overload
def tool(function: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    docstring_format: str = "auto",
    run_in_thread: bool = True,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    docstring_format: str = "auto",
    run_in_thread: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool from a sync or async function, bare (`@tool`) or with options (`@tool(name=...)`).

    The argument schema comes from the type hints (anything pydantic understands: Literal, enums, Optional,
    lists, dicts, pydantic models, Annotated[..., Field(...)]); descriptions from the docstring (Google,
    NumPy, reST or Epydoc style). The decorated object is a `FunctionTool`: calling it is async and
    validates its arguments; the original function stays available as `.function`.

    Example:
        >>> from typing import Literal
        >>> @tool
        ... def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        ...     '''Current weather in a city.
        ...
        ...     Args:
        ...         city: City name, e.g. "Paris".
        ...     '''
        ...     return f"22 {unit} in {city}"
        >>> asyncio.run(get_weather("Paris"))
        '22 C in Paris'
        >>> @tool(name="forecast", run_in_thread=False)
        ... async def weather_forecast(city: str, days: int = 3) -> list[str]:
        ...     '''Daily forecast.'''
        ...     return ["sunny"] * days
        >>> forecast = weather_forecast
        >>> forecast.name, forecast.spec().parameters["required"]
        ('forecast', ['city'])
    """

    def decorate(fn: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(
            fn,
            name=name,
            description=description,
            docstring_format=docstring_format,
            run_in_thread=run_in_thread,
        )

    if function is not None:
        return decorate(function)
    return decorate


def as_tool(obj: ToolLike | Callable[..., Any] | Callable[..., Awaitable[Any]]) -> ToolLike:
    """Return `obj` if it already is a tool (anything satisfying the protocol), else wrap the function.

    Example:
        >>> def double(x: int) -> int:
        ...     '''Double a number.'''
        ...     return 2 * x
        >>> as_tool(double).name
        'double'
    """
    # The concrete class first: a runtime-checkable protocol's isinstance inspects every member (~50 µs).
    if isinstance(obj, (Tool, ToolLike)):  # checked in order: the concrete class first
        return obj
    if callable(obj):
        return FunctionTool(obj)
    raise ToolDefinitionError(f"expected a tool or a function, got {type(obj).__name__}: {obj!r}")


__all__ = [
    "RESERVED_NAMES",
    "FunctionTool",
    "Tool",
    "as_tool",
    "describe_validation_errors",
    "tool",
    "validate_tool_name",
]
