"""Tools: host-side capabilities an agent calls from code actions or through tool calls.

Example:
    >>> from codeagent.tools import tool
    >>> @tool
    ... def get_weather(city: str) -> str:
    ...     '''Current weather in a city.
    ...
    ...     Args:
    ...         city: City name, e.g. "Paris".
    ...     '''
    ...     return "sunny"
    >>> print(get_weather.python_signature())
    def get_weather(city: str) -> str:
        \"\"\"Current weather in a city.
    <BLANKLINE>
        Args:
            city: City name, e.g. "Paris".
        \"\"\"

`codeagent.tools.Tool` is the base *class* (subclass it, or use `@tool` / `Tool.from_function`);
`ToolProtocol` (= `codeagent.tools.types.Tool`) is the structural protocol the agents and executors accept.
Tools from MCP servers: `codeagent.tools.mcp` (`MCPClient`, needs the `mcp` extra). LangChain tools: not yet.
"""

from codeagent.tools.builtins import (
    FinalAnswerTool,
    InputFunction,
    PythonTool,
    UserInputTool,
    final_answer,
    user_input,
)
from codeagent.tools.errors import (
    ToolArgumentError,
    ToolDefinitionError,
    ToolExecutionError,
    ToolNotFoundError,
)
from codeagent.tools.jsonable import format_execution_result, format_tool_output, to_jsonable
from codeagent.tools.render import describe_keys, python_signature, python_type, signature_line
from codeagent.tools.schema import FunctionSchema, function_schema
from codeagent.tools.tool import RESERVED_NAMES, FunctionTool, Tool, as_tool, tool, validate_tool_name
from codeagent.tools.toolset import ToolSet
from codeagent.tools.types import Tool as ToolProtocol

__all__ = [
    "RESERVED_NAMES",
    "FinalAnswerTool",
    "FunctionSchema",
    "FunctionTool",
    "InputFunction",
    "PythonTool",
    "Tool",
    "ToolArgumentError",
    "ToolDefinitionError",
    "ToolExecutionError",
    "ToolNotFoundError",
    "ToolProtocol",
    "ToolSet",
    "UserInputTool",
    "as_tool",
    "describe_keys",
    "final_answer",
    "format_execution_result",
    "format_tool_output",
    "function_schema",
    "python_signature",
    "python_type",
    "signature_line",
    "to_jsonable",
    "tool",
    "user_input",
    "validate_tool_name",
]
