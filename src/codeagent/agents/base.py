"""What CodeAgent and ToolCallingAgent share: configuration, the public run API, and per-run state.

An agent object is configuration only: each run gets its own `RunContext` (memory, executor, tools), so one
agent can serve many concurrent runs (`asyncio.gather(agent.arun(a), agent.arun(b))`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from codeagent.agents.events import AgentEvent, FinalAnswerEvent
from codeagent.agents.result import RunResult
from codeagent.memory import ActionStep, AgentMemory, Compaction, PlanningStep, TaskStep
from codeagent.models.types import ChatMessage, ImagePart, Model, ToolCall, Usage
from codeagent.tools.types import Tool

#: `check(answer, memory) -> bool` (sync or async); False or an exception rejects the answer.
FinalAnswerCheck = Callable[[Any, AgentMemory], bool | Awaitable[bool]]
#: `callback(step, run)` after every action or planning step (sync or async).
StepCallback = Callable[[ActionStep | PlanningStep, "RunContext"], Any]


@dataclass
class ParsedAction:
    """An action parsed from the model's output: code for a CodeAgent, tool calls for a ToolCallingAgent."""

    thought: str = ""
    code: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class RunContext:
    """The state of one run: what the hooks of an agent need besides its configuration."""

    agent: Agent
    model: Model
    memory: AgentMemory
    tools: dict[str, Tool]
    additional_args: dict[str, Any]
    step_number: int = 0
    extra_usage: Usage = field(default_factory=Usage)  # calls outside action steps (last-chance answer)
    resources: dict[str, Any] = field(default_factory=dict)  # agent-specific (the CodeAgent's executor)


@dataclass(kw_only=True)
class Agent:
    """Configuration shared by all agents. Use `CodeAgent` or `ToolCallingAgent`."""

    model: Model | None = None
    tools: Sequence[Tool | Callable[..., Any]] = ()
    #: Agents this one can call like tools (each needs a `name` and a `description`).
    managed_agents: Sequence[Agent] = ()
    name: str | None = None
    description: str | None = None
    #: Extra instructions appended to the system prompt.
    instructions: str | None = None
    max_steps: int = 10
    #: Plan before step 1 and then every N steps (None: never).
    planning_interval: int | None = None
    #: A type or pydantic model the final answer must validate against (None: anything).
    output_type: Any = None
    final_answer_checks: Sequence[FinalAnswerCheck] = ()
    step_callbacks: Sequence[StepCallback] = ()
    #: Override prompt templates by name (Jinja2 source), e.g. {"code_agent_system": "..."}.
    prompt_templates: Mapping[str, str] = field(default_factory=dict)
    compaction: Compaction = field(default_factory=Compaction)
    #: Keep each step's model input in memory (full trajectories; costs memory on long runs).
    record_model_inputs: bool = True
    #: The memory of the latest finished run (convenience; concurrent runs each get their own in RunResult).
    memory: AgentMemory = field(default_factory=AgentMemory, init=False, repr=False)

    #: Whether past tool calls are replayed as native tool-call messages (ToolCallingAgent with native tools).
    native_tool_calls: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if self.planning_interval is not None and self.planning_interval < 1:
            raise ValueError("planning_interval must be >= 1 or None")
        for sub in self.managed_agents:
            if not sub.name or not sub.description:
                raise ValueError("a managed agent needs a name and a description")

    # ---- public API -------------------------------------------------------------------------------
    async def arun(
        self,
        task: str,
        *,
        images: Sequence[ImagePart] = (),
        additional_args: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run the agent on `task` and return its result.

        Example:
            >>> from codeagent import CodeAgent
            >>> from codeagent.testing import ScriptedModel
            >>> agent = CodeAgent(model=ScriptedModel(["```python\\nfinal_answer(6 * 7)\\n```"]))
            >>> asyncio.run(agent.arun("What is 6 times 7?")).answer
            42
        """
        async with aclosing(self._events(task, images, additional_args, stream_model=False)) as events:
            async for event in events:
                if isinstance(event, FinalAnswerEvent):
                    return event.result
        raise AssertionError("the agent loop ended without a FinalAnswerEvent")  # pragma: no cover

    def run(
        self,
        task: str,
        *,
        images: Sequence[ImagePart] = (),
        additional_args: dict[str, Any] | None = None,
    ) -> RunResult:
        """Synchronous `arun` (also works where an event loop is already running, e.g. in Jupyter)."""
        coro = self.arun(task, images=images, additional_args=additional_args)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = asyncio.run(coro)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name="codeagent-run")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        result: RunResult = box["result"]
        return result

    async def stream(
        self,
        task: str,
        *,
        images: Sequence[ImagePart] = (),
        additional_args: dict[str, Any] | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """Run the agent, yielding model deltas, actions, observations, steps and finally the answer.

        Example:
            >>> async def show(agent: Agent) -> None:
            ...     async for event in agent.stream("What is 6 times 7?"):
            ...         print(type(event).__name__)
        """
        async with aclosing(self._events(task, images, additional_args, stream_model=True)) as events:
            async for event in events:
                yield event

    async def _events(
        self,
        task: str,
        images: Sequence[ImagePart],
        additional_args: dict[str, Any] | None,
        *,
        stream_model: bool,
    ) -> AsyncGenerator[AgentEvent, None]:
        from codeagent.agents.loop import agent_events  # the loop imports this module

        run_events = agent_events(
            self, task, images=images, additional_args=additional_args, stream_model=stream_model
        )
        async with aclosing(run_events):
            async for event in run_events:
                if isinstance(event, FinalAnswerEvent):
                    self.memory = event.result.memory
                yield event

    # ---- hooks the loop calls; CodeAgent and ToolCallingAgent fill them in --------------------------
    async def start_run(
        self, task: str, *, images: Sequence[ImagePart], additional_args: dict[str, Any] | None
    ) -> RunContext:
        """Resolve the model and tools, and write the system prompt and the task into a fresh memory."""
        from codeagent.agents.managed import ManagedAgentTool
        from codeagent.tools import as_tool

        tools: dict[str, Tool] = {}
        for item in [*self.tools, *(ManagedAgentTool(sub) for sub in self.managed_agents)]:
            tool = as_tool(item)
            if tool.name in tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            tools[tool.name] = tool
        run = RunContext(
            agent=self,
            model=self.resolve_model(),
            memory=AgentMemory(),
            tools=tools,
            additional_args=dict(additional_args or {}),
        )
        run.memory.system_prompt = self.system_prompt(run)
        run.memory.steps.append(TaskStep(task=self.task_text(task, run), images=list(images)))
        return run

    async def finish_run(self, run: RunContext) -> None:
        """Release what the run holds (the CodeAgent closes its executor)."""

    def resolve_model(self) -> Model:
        if self.model is not None:
            return self.model
        from codeagent.models.embedded import default_model

        return default_model()

    def task_text(self, task: str, run: RunContext) -> str:
        if not run.additional_args:
            return task
        described = "\n".join(f"- {k}: {_short_repr(v)}" for k, v in run.additional_args.items())
        return f"{task}\n\nYou have these additional arguments, available as variables:\n{described}"

    def render_prompt(self, name: str, /, **variables: Any) -> str:
        from codeagent.agents.prompts import render

        return render(name, overrides=dict(self.prompt_templates), **variables)

    def system_prompt(self, run: RunContext) -> str:
        raise NotImplementedError

    def compaction_for(self, run: RunContext) -> Compaction:
        """How memory is shown to the model in this run (CodeAgent adapts it to tiny models)."""
        return self.compaction

    def model_options(self, run: RunContext) -> dict[str, Any]:
        """Keyword arguments for `Model.generate` / `stream`: tools, stop, grammar, response_format."""
        return {}

    def parse_action(self, output: ChatMessage) -> ParsedAction:
        raise NotImplementedError

    async def execute_action(self, run: RunContext, action: ParsedAction, step: ActionStep) -> None:
        """Run the action and fill `step.observation`, `step.error`, `step.is_final_answer`/`final_answer`."""
        raise NotImplementedError


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
