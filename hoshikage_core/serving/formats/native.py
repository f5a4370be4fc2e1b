"""Tool calls in the model's own format (see :mod:`.calls`), read as they stream.

Content flows until the format's start marker appears; from there the text is
calls, each handed on as soon as it is complete. Text that turns out not to be a
call in the format, or a call to a function that was not offered, is content
after all: nothing the model wrote is swallowed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from ...types import TokenLogprob
from ..events import ToolCall
from ..requests import ToolSpec
from .calls import CALL_ID, KEY, NUMBER, CallFormat, ParamFormat
from .markers import held_suffix
from .parsed import Parsed

__all__ = ["NativeCalls"]

_PYTHON_TAG = "<|python_tag|>"


def _regex(markup: str) -> str:
    """Markup as a regex: placeholders become their patterns, whitespace at its ends
    is optional (models are loose about newlines around markers)."""
    core = markup.strip()
    if not core:
        return r"\s*"
    parts = re.split(f"({re.escape(NUMBER)}|{re.escape(CALL_ID)}|{re.escape(KEY)})", core)
    pattern = "".join(r"\d+" if p == NUMBER else r"[^\s<>\"|]*?" if p == CALL_ID
                      else r"(?P<key>[^\s<>\"=:|]+)" if p == KEY
                      else r"\s*".join(re.escape(line) for line in p.split("\n"))
                      for p in parts)
    return r"\s*" + pattern + r"\s*"


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


class _Reader:
    """Reads calls in one format from a region of text, from the front."""

    def __init__(self, fmt: CallFormat, tools: Sequence[ToolSpec]) -> None:
        self._fmt = fmt
        self._tools = {t.name: t for t in tools}
        self._decoder = json.JSONDecoder()

    def calls(self, text: str, final: bool, continuing: bool = False
              ) -> tuple[list[ToolCall], int, bool]:
        """The complete calls at the front of ``text``, where reading stopped, and
        whether what stands there can still become a call (False: it is not one).
        ``continuing``: calls were read before, so the section is open and the next
        call (after a separator) or the section's close comes first."""
        fmt, calls = self._fmt, list[ToolCall]()
        if continuing:
            position = 0
        else:
            opened = self._match(fmt.section_open, text, 0) if fmt.section_open.strip() else 0
            if opened is None:
                return [], 0, self._may_become(fmt.section_open, text)
            position = opened
        while True:
            if calls or continuing:
                after = self._match(fmt.separator, text, position) \
                    if fmt.separator.strip() else None
                position = after if after is not None else position
            found = (self._array(text, position, final) if fmt.array
                     else self._one(text, position, final))
            if found is None:
                break
            new, position = found
            calls.extend(new)
            if fmt.single or fmt.array:
                break
        if fmt.section_close.strip():
            closed = self._match(fmt.section_close, text, position)
            if closed is not None and (calls or continuing):
                position = closed
                if not calls:
                    return [], position, True
        if not calls:  # an incomplete call waits for more; the end decides
            return [], 0, not final
        return calls, position, True

    def _may_become(self, markup: str, text: str) -> bool:
        core = markup.strip().split(NUMBER)[0].split(CALL_ID)[0]
        head = text.lstrip()
        return core.startswith(head) or head.startswith(core)

    def _match(self, markup: str, text: str, position: int) -> int | None:
        found = re.compile(_regex(markup)).match(text, position)
        return found.end() if found else None

    def _closed(self, text: str, end: int, final: bool) -> int | None:
        """Where a call whose body ends at ``end`` is over: after its close marker; at
        the end of an answer that stopped before writing it; None if the text there
        is something else, or (still streaming) the close has not come yet."""
        close = self._fmt.call_close.strip()
        if not close:
            return end
        found = self._match(self._fmt.call_close, text, end)
        if found is not None:
            return found
        rest = text[end:].strip()
        if rest and not close.startswith(rest):
            return None
        return len(text) if final else None

    def _one(self, text: str, position: int, final: bool
             ) -> tuple[list[ToolCall], int] | None:
        fmt = self._fmt
        start = self._match(fmt.call_open, text, position)
        if start is None:
            return None
        if fmt.kind == "json":
            found = self._json(text, start)
            if found is None:
                return None
            value, end = found
            call = self._from_object(value)
            if call is None:
                return None
            calls = [call]
        else:
            found_call = self._named_or_xml(text, start)
            if found_call is None:
                return None
            call, end = found_call
            calls = [call]
        close = self._closed(text, end, final)
        return (calls, close) if close is not None else None

    def _json(self, text: str, position: int) -> tuple[Any, int] | None:
        start = len(text) - len(text[position:].lstrip())
        try:
            return self._decoder.raw_decode(text, start)
        except ValueError:
            return None

    def _array(self, text: str, position: int, final: bool
               ) -> tuple[list[ToolCall], int] | None:
        """A JSON array of calls, item by item: an answer cut short keeps the items it
        completed (the rest is text)."""
        start = self._match(self._fmt.call_open, text, position)
        if start is None:
            return None
        at = len(text) - len(text[start:].lstrip())
        if not text.startswith("[", at):
            return None
        at += 1
        calls: list[ToolCall] = []
        while True:
            at = len(text) - len(text[at:].lstrip(" \n\t,"))
            if text.startswith("]", at):
                close = self._closed(text, at + 1, final)
                return (calls, close) if calls and close is not None else None
            try:
                item, end = self._decoder.raw_decode(text, at)
            except ValueError:  # the array goes on beyond what has come
                return (calls, at) if final and calls else None
            call = self._from_object(item)
            if call is None:
                return None
            calls.append(call)
            at = end

    def _from_object(self, value: Any) -> ToolCall | None:
        fmt = self._fmt
        if not isinstance(value, dict):
            return None
        if fmt.name_key is None:  # {"name": {arguments}}
            if len(value) != 1:
                return None
            name, arguments = next(iter(value.items()))
        else:
            name = value.get(fmt.name_key, value.get("name"))
            arguments = value.get(fmt.arguments_key,
                                  value.get("arguments", value.get("parameters", {})))
        return self._call(name, arguments)

    def _call(self, name: Any, arguments: Any) -> ToolCall | None:
        if not isinstance(name, str) or name not in self._tools:
            return None
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                return None
        if not isinstance(arguments, dict):
            return None
        return ToolCall(_new_id(), name, json.dumps(arguments, ensure_ascii=False))

    def _named_or_xml(self, text: str, start: int) -> tuple[ToolCall, int] | None:
        fmt = self._fmt
        middle = re.compile(_regex(fmt.middle)) if fmt.middle.strip() else None
        for name in sorted(self._tools, key=len, reverse=True):
            if not text.startswith(name, start):
                continue
            after = start + len(name)
            if middle is not None:
                found = middle.match(text, after)
                if found is None:
                    continue
                after = found.end()
            if fmt.kind == "named":
                value = self._json(text, after)
                if value is None or not isinstance(value[0], dict):
                    return None
                call = self._call(name, value[0])
                return (call, value[1]) if call is not None else None
            arguments, end = self._params(text, after, self._tools[name])
            if arguments is None:
                return None
            call = self._call(name, arguments)
            return (call, end) if call is not None else None
        return None

    def _params(self, text: str, position: int, tool: ToolSpec
                ) -> tuple[dict[str, Any] | None, int]:
        fmt = self._fmt
        assert fmt.string_param is not None and fmt.other_param is not None
        properties = dict(tool.parameters.get("properties", {}))
        arguments: dict[str, Any] = {}
        while True:
            if arguments and fmt.param_separator:
                found = re.compile(r"\s*" + re.escape(fmt.param_separator.strip()) + r"\s*"
                                   ).match(text, position)
                if found is None:
                    break
                position = found.end()
            parsed = self._param(text, position, properties)
            if parsed is None:
                break
            key, value, position = parsed
            arguments[key] = value
        return arguments, position

    def _param(self, text: str, position: int, properties: dict[str, Any]
               ) -> tuple[str, Any, int] | None:
        fmt = self._fmt
        assert fmt.string_param is not None and fmt.other_param is not None
        for key in sorted(properties, key=len, reverse=True):
            is_string = properties[key].get("type") == "string"
            for param in ((fmt.string_param, fmt.other_param) if is_string
                          else (fmt.other_param, fmt.string_param)):
                found = self._value(text, position, key, param)
                if found is not None:
                    raw, end = found
                    return key, _value(raw, param, properties[key]), end
        return None

    def _value(self, text: str, position: int, key: str, param: ParamFormat
               ) -> tuple[str, int] | None:
        head = re.compile(_regex(param.open) + re.escape(key) + _regex(param.middle)
                          + re.escape(param.quote)).match(text, position)
        if head is None:
            return None
        start = head.end()
        stop = param.quote + param.close.strip().replace(KEY, key) if param.close.strip() \
            else param.quote
        if stop:
            end = text.find(stop, start)
            if end < 0:
                return None
            after = self._match(param.close.replace(KEY, key), text, end + len(param.quote)) \
                if param.close.strip() else end + len(param.quote)
            return text[start:end], after if after is not None else end + len(stop)
        # no close: the value runs to the separator or the end of the call
        ends = [i for i in (text.find(self._fmt.param_separator.strip(), start)
                            if self._fmt.param_separator.strip() else -1,
                            text.find(self._fmt.call_close.strip()[:1], start)
                            if self._fmt.call_close.strip() else -1) if i >= 0]
        end = min(ends) if ends else len(text)
        return text[start:end], end


def _value(raw: str, param: ParamFormat, schema: dict[str, Any]) -> Any:
    """A value as written in markup, as the JSON its parameter's schema wants."""
    text = raw.strip("\n") if not param.quote else raw
    if schema.get("type") == "string" or param.quote:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


class NativeCalls:
    """Reads one answer's content for calls in ``fmt``; ``mode`` is the tool plan's
    (``forced``: the answer is calls; ``auto``: text, calls or both; ``none``: text)."""

    def __init__(self, fmt: CallFormat, tools: Sequence[ToolSpec], mode: str, *,
                 parallel: bool = True) -> None:
        self._fmt = fmt
        self._parallel = parallel
        self._calls = 0
        self._reader = _Reader(fmt, tools)
        self._mode = mode
        self._start = fmt.start.strip()
        self._content = ""  # held: may begin the start marker
        self._region = ""  # from the start marker on
        self._in_calls = mode == "forced"
        self._any_text = False
        self._continuing = False  # calls were read: the section is open

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[Parsed]:
        if self._mode == "none":
            return [Parsed("content", text, logprobs)] if text else []
        if self._in_calls:
            self._region += text
            return self._take_calls(final=False)
        buffer = self._content + text
        self._content = ""
        if not self._start:  # bare calls: only an answer that begins with one
            if not self._any_text and buffer.lstrip().startswith(_PYTHON_TAG):
                buffer = buffer.lstrip()[len(_PYTHON_TAG):]  # Llama 3.x may open with it
            elif not self._any_text and _PYTHON_TAG.startswith(buffer.lstrip()) and buffer.strip():
                self._content = buffer
                return []
            head = buffer.lstrip()
            if not self._any_text and (not head or head[0] in "{[" or any(
                    name.startswith(head[:len(name)]) for name in self._reader._tools)):
                self._in_calls, self._region = True, buffer
                return self._take_calls(final=False)
            self._any_text = self._any_text or bool(head)
            return [Parsed("content", buffer, logprobs)] if buffer else []
        at = buffer.find(self._start)
        if at >= 0:
            out = [Parsed("content", buffer[:at], logprobs)] if buffer[:at] else []
            self._in_calls, self._region = True, buffer[at:]
            return out + self._take_calls(final=False)
        hold = held_suffix(buffer, [self._start])
        self._content = buffer[len(buffer) - hold:] if hold else ""
        released = buffer[:len(buffer) - hold]
        return [Parsed("content", released, logprobs)] if released else []

    def _take_calls(self, final: bool) -> list[Parsed]:
        calls, used, alive = self._reader.calls(self._region, final, self._continuing)
        if not self._parallel:  # one call an answer: the rest are dropped
            calls = calls[:max(0, 1 - self._calls)]
        self._calls += len(calls)
        out = [Parsed("call", call=call) for call in calls]
        if calls or used:
            self._region = self._region[used:]
            self._continuing = True
        elif not alive:  # not a call after all: it was text
            out.append(Parsed("content", self._region))
            self._region, self._in_calls = "", False
        return out

    def finish(self, complete: bool) -> list[Parsed]:
        out: list[Parsed] = []
        if self._content:
            out.append(Parsed("content", self._content))
            self._content = ""
        while self._region.strip():  # complete calls count even in an answer cut short
            before = self._region
            taken = self._take_calls(final=True)
            out.extend(taken)
            if self._region == before or not self._region.strip():
                break
        if self._region.strip():  # what is left is not (all) calls
            out.append(Parsed("content", self._region))
        self._region = ""
        return out
