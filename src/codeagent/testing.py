"""Models for tests and benchmarks: no network, no weights, deterministic.

`ScriptedModel` plays back a list of answers; `FunctionModel` computes each answer with your function. Both
implement the whole `Model` protocol (generate and stream), apply stop sequences as a server would, record
what they were asked, and report usage (tokens counted roughly) with a cost from the price table, so the
usage and cost code paths run in tests too.

Example:
    >>> import asyncio
    >>> from codeagent.models import ChatMessage
    >>> model = ScriptedModel(["Thought: easy.\\n```py\\nfinal_answer(4)\\n```"])
    >>> reply = asyncio.run(model.generate([ChatMessage(role="user", content="2+2?")]))
    >>> reply.text.splitlines()[0], model.calls[0].messages[0].text
    ('Thought: easy.', '2+2?')
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeagent.models.parsing import count_tokens_roughly, truncate_at_stop
from codeagent.models.pricing import priced_usage
from codeagent.models.types import ChatMessage, ModelDelta, ModelError, ToolSpec

__all__ = ["CallOptions", "FunctionModel", "RecordedCall", "ScriptExhaustedError", "ScriptedModel"]


@dataclass(frozen=True)
class CallOptions:
    """The keyword arguments of one model call."""

    tools: list[ToolSpec] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    response_format: dict[str, Any] | None = None
    grammar: str | None = None


@dataclass(frozen=True)
class RecordedCall:
    """What a test model was asked: the messages (copied) and the options."""

    messages: list[ChatMessage]
    options: CallOptions
    streamed: bool = False


class ScriptExhaustedError(ModelError):
    """A `ScriptedModel` was called more often than it has answers."""

    retryable = False


Output = str | ChatMessage
ModelFunction = Callable[[list[ChatMessage], CallOptions], Output | Awaitable[Output]]

_CHUNKS = re.compile(r"\s*\S+|\s+")


class _TestModelBase:
    """What both test models share: recording, stop sequences, usage, delays and chunked streaming."""

    def __init__(self, *, model_id: str, delay: float, record: bool = True) -> None:
        self.model_id = model_id
        self.delay = delay
        self.record = record
        self.calls: list[RecordedCall] = []

    @property
    def last_messages(self) -> list[ChatMessage]:
        """The messages of the latest call (for assertions)."""
        if not self.calls:
            raise AssertionError(f"{self.model_id} was never called")
        return self.calls[-1].messages

    async def _answer(self, messages: list[ChatMessage], options: CallOptions) -> Output:
        raise NotImplementedError

    async def _reply(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] | None,
        stop: Sequence[str] | None,
        response_format: dict[str, Any] | None,
        grammar: str | None,
        streamed: bool,
    ) -> ChatMessage:
        copied = [m.model_copy(deep=True) for m in messages] if self.record else list(messages)
        options = CallOptions(list(tools or []), list(stop or []), response_format, grammar)
        if self.record:
            self.calls.append(RecordedCall(copied, options, streamed))
        if self.delay:
            await asyncio.sleep(self.delay)
        output = await self._answer(copied, options)
        if isinstance(output, ChatMessage):
            reply = output.model_copy(deep=True)
        else:
            reply = ChatMessage(role="assistant", content=truncate_at_stop(output, stop)[0])
        reply.model_id = reply.model_id or self.model_id
        if reply.usage is None:
            out_tokens = count_tokens_roughly(reply.text) + sum(
                count_tokens_roughly(c.name + " " + str(c.arguments)) for c in reply.tool_calls
            )
            reply.usage = priced_usage(self.model_id, count_tokens_roughly(copied), out_tokens, local=False)
            if reply.usage.cost_usd is None:
                reply.usage.cost_usd = 0.0  # a test model is free unless its id names a priced model
        return reply

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        response_format: dict[str, Any] | None = None,
        grammar: str | None = None,
    ) -> ChatMessage:
        return await self._reply(messages, tools, stop, response_format, grammar, streamed=False)

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        response_format: dict[str, Any] | None = None,
        grammar: str | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """The answer's text word by word (whitespace kept), then the whole message."""
        reply = await self._reply(messages, tools, stop, response_format, grammar, streamed=True)
        for chunk in _CHUNKS.findall(reply.text):
            yield ModelDelta(text=chunk)
            await asyncio.sleep(0)  # let other tasks run between chunks, as a network stream would
        yield ModelDelta(message=reply)


class ScriptedModel(_TestModelBase):
    """Answers with the given outputs, in order; an exception in the list is raised at its turn.

    Args:
        outputs: Strings (assistant text), ChatMessages (e.g. with tool calls), or exceptions to raise.
        model_id: Also used to price usage: ``ScriptedModel(..., model_id="gpt-4o")`` costs like gpt-4o.
        delay: Seconds each call takes (``asyncio.sleep``), to simulate latency in benchmarks.
        record: keep a copy of each call's messages in ``calls`` (for assertions); False in benchmarks,
            where copying every conversation would be most of the model's cost.

    Example:
        >>> import asyncio
        >>> model = ScriptedModel(["first", "second"])
        >>> asyncio.run(model.generate([])).text
        'first'
        >>> model.remaining
        1
    """

    def __init__(
        self,
        outputs: Iterable[Output | BaseException],
        *,
        model_id: str = "scripted",
        delay: float = 0.0,
        record: bool = True,
    ) -> None:
        super().__init__(model_id=model_id, delay=delay, record=record)
        self.outputs: list[Output | BaseException] = list(outputs)
        self._next = 0

    @property
    def remaining(self) -> int:
        """How many outputs are left."""
        return len(self.outputs) - self._next

    async def _answer(self, messages: list[ChatMessage], options: CallOptions) -> Output:
        if self._next >= len(self.outputs):
            raise ScriptExhaustedError(
                f"ScriptedModel {self.model_id!r} has no output for call {self._next + 1}: all "
                f"{len(self.outputs)} scripted outputs were used. Add more outputs to the script. "
                f"Last message received: {messages[-1].text[:200]!r}"
                if messages
                else f"ScriptedModel {self.model_id!r}: all {len(self.outputs)} scripted outputs were used"
            )
        output = self.outputs[self._next]
        self._next += 1
        if isinstance(output, BaseException):
            raise output
        return output


class FunctionModel(_TestModelBase):
    """Answers with `fn(messages, options)`, a plain or async function returning a string or a ChatMessage.

    Example:
        >>> import asyncio
        >>> echo = FunctionModel(lambda messages, options: messages[-1].text.upper())
        >>> asyncio.run(echo.generate([ChatMessage(role="user", content="hi")])).text
        'HI'
    """

    def __init__(
        self, fn: ModelFunction, *, model_id: str = "function", delay: float = 0.0, record: bool = True
    ) -> None:
        super().__init__(model_id=model_id, delay=delay, record=record)
        self.fn = fn

    async def _answer(self, messages: list[ChatMessage], options: CallOptions) -> Output:
        result = self.fn(messages, options)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, str | ChatMessage):
            raise TypeError(
                f"FunctionModel's function must return str or ChatMessage, not {type(result).__name__}"
            )
        return result
