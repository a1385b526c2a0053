"""Small parsing helpers shared by the adapters: tool-call arguments, stop sequences, rough token counts.

Tool-call arguments that are not a JSON object do not crash an adapter: the raw text is kept under
`RAW_ARGUMENTS_KEY` (with the parse error under `ARGUMENTS_ERROR_KEY`) so the agent can show the model its
mistake and let it try again.

Example:
    >>> parse_tool_arguments('{"x": 1}')
    {'x': 1}
    >>> raw_arguments(ToolCall(id="1", name="f", arguments=parse_tool_arguments("{oops")))
    '{oops'
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from codeagent.models.types import ChatMessage, ImagePart, TextPart, ToolCall

__all__ = [
    "ARGUMENTS_ERROR_KEY",
    "RAW_ARGUMENTS_KEY",
    "StopFilter",
    "arguments_json",
    "count_tokens_roughly",
    "image_url",
    "parse_tool_arguments",
    "raw_arguments",
    "truncate_at_stop",
]

#: Key under which unparsable tool-call arguments keep their raw text.
RAW_ARGUMENTS_KEY = "__raw_arguments__"
#: Key under which the reason the arguments could not be parsed is kept.
ARGUMENTS_ERROR_KEY = "__arguments_error__"


def parse_tool_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict; anything that is not a JSON object is kept raw under a marker."""
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if not isinstance(raw, str):
        return {RAW_ARGUMENTS_KEY: str(raw), ARGUMENTS_ERROR_KEY: f"expected a JSON object, got {raw!r}"}
    if not raw.strip():
        return {}  # some servers send "" for a tool without arguments
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {RAW_ARGUMENTS_KEY: raw, ARGUMENTS_ERROR_KEY: f"invalid JSON: {exc}"}
    if not isinstance(value, dict):
        return {RAW_ARGUMENTS_KEY: raw, ARGUMENTS_ERROR_KEY: "expected a JSON object"}
    return value


def raw_arguments(call: ToolCall) -> str | None:
    """The raw argument text of a call whose arguments could not be parsed, else None."""
    raw = call.arguments.get(RAW_ARGUMENTS_KEY)
    return raw if isinstance(raw, str) else None


def arguments_json(call: ToolCall) -> str:
    """The arguments as sent back to a server: the raw text when they never parsed, else JSON."""
    raw = raw_arguments(call)
    return raw if raw is not None else json.dumps(call.arguments, ensure_ascii=False)


def image_url(part: ImagePart) -> str:
    """An image as a URL: its own, or a ``data:`` URI built from its base64 data."""
    if part.url:
        return part.url
    if part.data is None:
        raise ValueError("an ImagePart needs either `data` or `url`")
    return f"data:{part.media_type};base64,{part.data}"


def truncate_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """Cut `text` before the earliest stop sequence; also say whether one was found."""
    if not stop:
        return text, False
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class StopFilter:
    """Applies stop sequences to streamed text without ever emitting part of a stop sequence.

    Text that might be the start of a stop sequence is held back until the next chunk decides.

    Example:
        >>> f = StopFilter(["\\nObs"])
        >>> f.feed("ab\\nO"), f.feed("bs: 1"), f.stopped
        ('ab', '', True)
    """

    def __init__(self, stop: Sequence[str] | None) -> None:
        self._stop = [s for s in (stop or []) if s]
        self._pending = ""
        self.stopped = False

    def feed(self, chunk: str) -> str:
        """Return the part of `chunk` that is safe to emit now."""
        if self.stopped:
            return ""
        if not self._stop:
            return chunk
        text = self._pending + chunk
        cut, hit = truncate_at_stop(text, self._stop)
        if hit:
            self.stopped = True
            self._pending = ""
            return cut
        hold = max((k for s in self._stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """At the end of the stream: what was held back was no stop sequence after all."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out


_WORDS = re.compile(r"\w+|[^\w\s]")


@functools.lru_cache(maxsize=4096)
def _count_words(text: str) -> int:
    # Cached: a conversation is re-counted at every call, and its old messages (the system prompt
    # above all) are the same strings each time.
    return len(_WORDS.findall(text))


def count_tokens_roughly(content: str | Sequence[ChatMessage]) -> int:
    """A cheap token estimate (words and punctuation marks) for models that report no usage."""
    if isinstance(content, str):
        return _count_words(content)
    total = 0
    for message in content:
        total += 4  # role and framing tokens, as chat templates add them
        if isinstance(message.content, list):
            for part in message.content:
                total += _count_words(part.text) if isinstance(part, TextPart) else 85
        else:
            total += _count_words(message.content or "")
        for call in message.tool_calls:
            total += _count_words(call.name + " " + arguments_json(call))
    return total
