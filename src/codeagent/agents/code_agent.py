"""CodeAgent: each step the model writes a Python code action; the executor runs it in a sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codeagent.agents.base import Agent, ParsedAction, RunContext
from codeagent.agents.managed import ManagedAgentTool
from codeagent.agents.parsing import parse_code_action
from codeagent.execution.policy import ExecutionPolicy
from codeagent.execution.types import ExecutionResult, Executor, cancel_start, start_in_background
from codeagent.memory import ActionStep, Compaction, StepError
from codeagent.models.types import ChatMessage, model_attribute

#: Tiny models see a correct result and keep computing; this reminder after each observation fixes most of it.
COMPACT_OBSERVATION_HINT = "If this answers the task, call final_answer() with the answer now."

#: Stop sequences that end an action: models like to hallucinate the observation after their code.
CODE_STOP_SEQUENCES = ("Observation:", "Calling tools:")


@dataclass(kw_only=True)
class CodeAgent(Agent):
    """An agent that acts by writing Python code, run by a sandboxed executor with the tools bridged in.

    Example:
        >>> from codeagent import CodeAgent, tool
        >>> @tool
        ... def get_weather(city: str) -> str:
        ...     \"\"\"Current weather in a city.\"\"\"
        ...     return "sunny"
        >>> agent = CodeAgent(tools=[get_weather], authorized_imports=["math"])  # embedded model by default
        >>> result = agent.run("Is it sunny in Paris? Answer yes or no.")  # doctest: +SKIP
    """

    #: An executor instance (kept open, shared by runs) or a factory called per run with the policy.
    #: Default: the sandboxed executor (bubblewrap worker), one per run.
    executor: Executor | Callable[[ExecutionPolicy], Executor] | None = None
    #: Modules the code may import (`pkg.*` for submodules); None: the policy's safe stdlib defaults.
    authorized_imports: Sequence[str] | None = None
    #: Limits of the executor (timeout, memory, operation budget...); `authorized_imports` overrides its list.
    policy: ExecutionPolicy = field(default_factory=ExecutionPolicy)
    #: Constrain the model's output to the action format with a GBNF grammar. None: on for models that apply
    #: grammars themselves (local llama.cpp); True forces it (e.g. a llama.cpp server); False turns it off.
    grammar: bool | None = None
    #: Use the compact system prompt with worked examples, made for tiny models. None: when the model asks
    #: for it (the embedded SmolLM2 does, through its `compact_prompt` attribute).
    compact_prompt: bool | None = None

    @property
    def effective_policy(self) -> ExecutionPolicy:
        if self.authorized_imports is None:
            return self.policy
        return replace(self.policy, authorized_imports=tuple(self.authorized_imports))

    # ---- hooks ----------------------------------------------------------------------------------
    async def start_run(
        self, task: str, *, images: Any, additional_args: dict[str, Any] | None
    ) -> RunContext:
        run = await super().start_run(task, images=images, additional_args=additional_args)
        executor, owned = self._executor_for_run()
        run.resources["executor"], run.resources["owns_executor"] = executor, owned
        try:
            await executor.send_tools(dict(run.tools))
            if run.additional_args:
                await executor.send_variables(run.additional_args)
        except BaseException:
            if owned:
                await executor.close()
            raise
        if owned:
            # Get the sandbox ready while the model thinks about the first action, not after.
            run.resources["executor_start"] = start_in_background(executor)
        return run

    async def finish_run(self, run: RunContext) -> None:
        await cancel_start(run.resources.pop("executor_start", None))
        if run.resources.get("owns_executor"):
            await run.resources["executor"].close()

    def system_prompt(self, run: RunContext) -> str:
        managed = [t for t in run.tools.values() if isinstance(t, ManagedAgentTool)]
        tools = [t for t in run.tools.values() if not isinstance(t, ManagedAgentTool)]
        compact = self.uses_compact_prompt(run)
        return self.render_prompt(
            "code_agent_system_small" if compact else "code_agent_system",
            tools=tools,
            managed_agents=managed,
            authorized_imports=list(self.effective_policy.authorized_imports),
            custom_instructions=self.instructions,
        )

    def uses_compact_prompt(self, run: RunContext) -> bool:
        if self.compact_prompt is not None:
            return self.compact_prompt
        return bool(model_attribute(run.model, "compact_prompt", False))

    def compaction_for(self, run: RunContext) -> Compaction:
        if self.uses_compact_prompt(run) and not self.compaction.observation_suffix:
            return replace(self.compaction, observation_suffix=COMPACT_OBSERVATION_HINT)
        return self.compaction

    def model_options(self, run: RunContext) -> dict[str, Any]:
        options: dict[str, Any] = {"stop": list(CODE_STOP_SEQUENCES)}
        if use_grammar(self.grammar, run.model):
            from codeagent.agents.grammars import code_action_grammar

            options["grammar"] = code_action_grammar()
        return options

    def parse_action(self, output: ChatMessage) -> ParsedAction:
        action = parse_code_action(output.text)
        return ParsedAction(thought=action.thought, code=action.code)

    async def execute_action(self, run: RunContext, action: ParsedAction, step: ActionStep) -> None:
        executor: Executor = run.resources["executor"]
        assert action.code is not None
        starting: asyncio.Future[None] | None = run.resources.pop("executor_start", None)
        if starting is not None:
            await starting  # a sandbox that cannot start fails here, as it would in run()
        result = await executor.run(action.code)
        step.observation = format_observation(result)
        step.state_reset = result.state_reset
        if result.error is not None:
            step.error = StepError(kind=str(result.error.kind), message=str(result.error))
        elif result.is_final_answer:
            step.is_final_answer, step.final_answer = True, result.value

    def _executor_for_run(self) -> tuple[Executor, bool]:
        """The run's executor and whether the run owns it (and must close it)."""
        if self.executor is None:
            from codeagent.execution.factory import create_executor

            return create_executor(self.effective_policy), True
        # A class is a factory too (a runtime-checkable protocol would accept the class itself as instance).
        if isinstance(self.executor, type) or not isinstance(self.executor, Executor):
            return self.executor(self.effective_policy), True
        return self.executor, False


def use_grammar(setting: bool | None, model: Any) -> bool:
    """Grammar on when asked, or by default for models that apply GBNF grammars themselves."""
    return setting if setting is not None else bool(model_attribute(model, "supports_grammar", False))


def format_observation(result: ExecutionResult, *, value_chars: int = 2000) -> str:
    """What the model reads after its code ran: the printed output, then the last expression's value."""
    text = result.logs
    if result.value is not None and not result.is_final_answer and result.error is None:
        shown = repr(result.value)
        if len(shown) > value_chars:
            shown = shown[:value_chars] + "..."
        text = f"{text}{'' if not text or text.endswith(chr(10)) else chr(10)}Out: {shown}"
    return text.rstrip("\n") if text.strip() else ""
