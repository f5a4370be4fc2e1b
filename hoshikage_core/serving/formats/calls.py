"""A model's own tool-call format, learned from how its template renders calls.

Templates write earlier tool calls exactly as the model was trained to write them.
Rendering probe calls (known names, ids and arguments; one call and two) and
reading where those land gives the format, whatever the family:

- ``json``: the call is a JSON value holding the name and the arguments
  (Hermes/Qwen ``<tool_call>{"name", "arguments"}</tool_call>``, Llama 3's bare
  ``{"name", "parameters"}``, Mistral's ``[TOOL_CALLS][...]``, Granite, Command-R's
  ``<|START_ACTION|>``, Apriel, Nemotron, GigaChat, firefunction...);
- ``named``: the name is text and the arguments a JSON object after it (Mistral's
  ``name[ARGS]{}``, DeepSeek's ``<｜tool▁call▁begin｜>``, Kimi-K2, functionary, Solar...);
- ``xml``: the name is text and each argument is marked up on its own (Qwen3-Coder
  ``<parameter=...>``, GLM's ``<arg_key>``, MiniMax's ``<parameter name=...>``,
  DeepSeek's DSML, Gemma 4, MiniCPM...).

A call's open and close, the section around several calls and what separates
them come from the difference between the one-call and the two-call render;
counters and call ids in the markup are kept as patterns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ...types import ChatMessage
from .markup import common_prefix, common_prefix_text, common_suffix_text, tag_back

__all__ = ["CallFormat", "ParamFormat", "learn_calls"]

_Q = "hk_q_3c9"
_CONTENT = "hk_c_3c9"
_NAMES = ("hk_fn_one", "hk_fn_two")
_IDS = ("hkid3c9a", "hkid3c9b")
_STRINGS = ("hk_s_one", "hk_s_two")
_NUMBERS = (713, 829)
_KEYS = ("hks", "hkn")  # the probe's argument names: a string and a number
NUMBER = "\x00n\x00"  # a counter in markup: 0, 1, ... or 1, 2, ...
CALL_ID = "\x00i\x00"  # the call's id in markup
KEY = "\x00k\x00"  # an argument's name, where markup repeats it (<city>...</city>)


@dataclass(frozen=True)
class ParamFormat:
    """How an ``xml`` call writes one argument: ``open`` KEY ``middle`` VALUE ``close``."""

    open: str
    middle: str
    close: str
    quote: str = ""  # around string values (Python-like and Gemma-like formats)


@dataclass(frozen=True)
class CallFormat:
    """One family's call syntax. Markup may hold :data:`NUMBER` and :data:`CALL_ID`."""

    kind: str  # "json", "named" or "xml"
    call_open: str
    call_close: str
    section_open: str = ""
    section_close: str = ""
    separator: str = ""
    # json: where the name and the arguments are
    name_key: str | None = None  # None: the name is the object's only key
    arguments_key: str = "arguments"
    arguments_as_text: bool = False
    array: bool = False  # the calls are items of one JSON array
    single: bool = False  # one call an answer (the template shows no more)
    extra: tuple[tuple[str, Any], ...] = ()
    """Every key of a call object, in order, with what it holds: its id ("id"), a
    counter ("counter"), or a constant; the name and arguments keys included."""
    # named and xml: what stands between the name and the arguments
    middle: str = ""
    # xml: how each argument is written
    string_param: ParamFormat | None = None
    other_param: ParamFormat | None = None
    param_separator: str = ""  # between arguments, for formats that separate them

    @property
    def start(self) -> str:
        """The text that opens the calls in an answer (may be empty: bare JSON)."""
        text = self.section_open or self.call_open
        return text.split(NUMBER)[0].split(CALL_ID)[0]


def learn_calls(template: Any) -> CallFormat | None:
    """``template``'s call format, or None if it shows no calls it can be read from."""
    try:
        one = _tail(template, 1)
        two = _tail(template, 2)
    except ValueError:
        return None
    if one is None or two is None:
        return None
    for learn in (_learn_json, _learn_named, _learn_xml):
        try:
            found = learn(one, two)
        except (ValueError, KeyError, IndexError):
            found = None
        if found is not None:
            return found
    return None


def _call(i: int) -> dict[str, Any]:
    """Probe call ``i``; the second has its arguments the other way round, so that each
    kind of argument is seen both last and not last."""
    arguments = {_KEYS[0]: _STRINGS[i], _KEYS[1]: _NUMBERS[i]}
    if i:
        arguments = dict(reversed(list(arguments.items())))
    return {"id": _IDS[i], "type": "function",
            "function": {"name": _NAMES[i], "arguments": json.dumps(arguments)}}


def _tail(template: Any, calls: int) -> str | None:
    """What the model writes for an answer of ``calls`` calls: the render after the
    generation prompt, up to the end of its turn."""
    question = [ChatMessage("user", _Q)]
    prompt = template.render(question)
    history = template.render([*question, ChatMessage(
        "assistant", "", tool_calls=[_call(i) for i in range(calls)])],
        add_generation_prompt=False)
    plain = template.render([*question, ChatMessage("assistant", _CONTENT)],
                            add_generation_prompt=False)
    if _NAMES[0] not in history or _CONTENT not in plain:
        return None
    start = tag_back(history, common_prefix(history, prompt))
    tail = history[start:]
    plain_tail = plain[tag_back(plain, common_prefix(plain, prompt)):]
    head = plain_tail[:plain_tail.find(_CONTENT)]
    end_of_turn = common_suffix_text(plain_tail, tail)
    if end_of_turn:
        tail = tail[:len(tail) - len(end_of_turn)]
    if head and tail.startswith(head):  # what the template writes before any answer
        tail = tail[len(head):]
    return _after_thinking(tail)


def _after_thinking(tail: str) -> str:
    """Without an empty think block some templates write before calls."""
    for close in ("</think>", "</seed:think>", "[/THINK]", "<|END_THINKING|>"):
        at = tail.find(close)
        if 0 <= at < tail.find(_NAMES[0]):
            tail = tail[at + len(close):]
    return tail.lstrip("\n")


def _json_values(text: str) -> list[tuple[int, int, Any]]:
    """Every JSON object or array in ``text`` (start, end, value), outermost first."""
    decoder = json.JSONDecoder()
    found: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append((i, end, value))
            i = end
            continue
        i += 1
    return found


def _is_arguments(value: Any, i: int) -> bool:
    expected = {_KEYS[0]: _STRINGS[i], _KEYS[1]: _NUMBERS[i]}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False
    return value == expected


def _call_object(value: Any, i: int) -> dict[str, Any] | None:
    """``value`` if it is call ``i`` as a JSON object (name and arguments inside)."""
    if not isinstance(value, dict):
        return None
    if any(v == _NAMES[i] for v in value.values()) and any(_is_arguments(v, i)
                                                           for v in value.values()):
        return value
    if len(value) == 1 and _NAMES[i] in value and _is_arguments(value[_NAMES[i]], i):
        return value
    return None


def _learn_json(one: str, two: str) -> CallFormat | None:
    values = _json_values(one)
    for start, end, value in values:
        if isinstance(value, list) and value and _call_object(value[0], 0) is not None:
            first = value[0]
            fmt = _json_shape(first, 0)
            return CallFormat("json", call_open=_pattern(one[:start]),
                              call_close=_pattern(one[end:]), array=True, **fmt)
        if _call_object(value, 0) is not None:
            fmt = _json_shape(value, 0)
            second = [(s, e) for s, e, v in _json_values(two) if _call_object(v, 1) is not None]
            firsts = [(s, e) for s, e, v in _json_values(two) if _call_object(v, 0) is not None]
            open_, close = one[:start], one[end:]
            if not second or not firsts or not two.startswith(one[:end]):
                # the template shows one call a turn (or others as plain text)
                return CallFormat("json", call_open=_pattern(open_), call_close=_pattern(close),
                                  single=True, **fmt)
            (_, e1), (s2, _) = firsts[0], second[0]
            between = two[e1:s2]
            call_close = common_prefix_text(between, close)
            call_open = common_suffix_text(between, open_)
            return CallFormat("json", call_open=_pattern(call_open),
                              call_close=_pattern(call_close),
                              section_open=_pattern(open_[:len(open_) - len(call_open)]),
                              section_close=_pattern(close[len(call_close):]),
                              separator=between[len(call_close):len(between) - len(call_open)],
                              **fmt)
    return None


def _json_shape(value: dict[str, Any], i: int) -> dict[str, Any]:
    if len(value) == 1 and _NAMES[i] in value:
        return {"name_key": None, "arguments_key": ""}
    name_key = next(k for k, v in value.items() if v == _NAMES[i])
    arguments_key = next(k for k, v in value.items() if k != name_key and _is_arguments(v, i))
    # other keys, in the template's order: the call's id, a counter, or a constant
    extra = tuple((k, "id" if v == _IDS[i] else "counter" if isinstance(v, str) and v.isdigit()
                   else v) for k, v in value.items())
    return {"name_key": name_key, "arguments_key": arguments_key,
            "arguments_as_text": isinstance(value[arguments_key], str), "extra": extra}


def _arguments_span(text: str, i: int, after: int) -> tuple[int, int] | None:
    for start, end, value in _json_values(text[after:]):
        if _is_arguments(value, i):
            return after + start, after + end
    return None


def _learn_named(one: str, two: str) -> CallFormat | None:
    name1 = one.find(_NAMES[0])
    span1 = _arguments_span(one, 0, name1 + len(_NAMES[0]))
    if name1 < 0 or span1 is None:
        return None
    a = two.find(_NAMES[0])
    b = two.find(_NAMES[1])
    span_a = _arguments_span(two, 0, a + len(_NAMES[0]))
    span_b = _arguments_span(two, 1, b + len(_NAMES[1]))
    if min(a, b) < 0 or span_a is None or span_b is None or not two.startswith(one[:span1[1]]):
        return CallFormat("named", call_open=_pattern(one[:name1]), call_close=_pattern(
            one[span1[1]:]), middle=_pattern(one[name1 + len(_NAMES[0]):span1[0]]),
            single=True)
    middle = one[name1 + len(_NAMES[0]):span1[0]]
    open_, close = one[:name1], one[span1[1]:]
    between = two[span_a[1]:b]
    call_close = common_prefix_text(_pattern(between), _pattern(close))
    call_open = common_suffix_text(_pattern(between), _pattern(open_))
    pattern_open, pattern_between = _pattern(open_), _pattern(between)
    return CallFormat("named", call_open=call_open, call_close=call_close,
                      section_open=pattern_open[:len(pattern_open) - len(call_open)],
                      section_close=_pattern(close)[len(call_close):],
                      separator=pattern_between[len(call_close):
                                                len(pattern_between) - len(call_open)],
                      middle=_pattern(middle))


def _learn_xml(one: str, two: str) -> CallFormat | None:
    first = _xml_call(one, 0)
    if first is None:
        return None
    second = _xml_call(two, 1, after=two.find(_NAMES[1])) if _NAMES[1] in two else None
    name1, head, params, end = first
    (kind_first, _, _, after_first), (kind_last, _, _, after_last) = params
    # markup that repeats the argument's name (<city>Paris</city>) compares as a pattern
    after_first = after_first.replace(_KEYS[kind_first], KEY)
    after_last = after_last.replace(_KEYS[kind_last], KEY)
    close = common_prefix_text(after_first, after_last)
    separator, opening = _split_separator(after_first[len(close):])
    middles: dict[int, tuple[str, str]] = {}
    for call in (first, second):
        for kind, middle, quote, _ in call[2] if call else ():
            middles.setdefault(kind, (middle, quote))
    if len(middles) < 2:
        return None

    def param(kind: int) -> ParamFormat:
        middle, quote = middles[kind]
        return ParamFormat(opening, middle, close, quote)

    middle = head[:len(head) - len(opening)] if opening and head.endswith(opening) else head
    open_ = one[:name1]
    rest = one[end + len(close.replace(KEY, _KEYS[kind_last])):]
    if second is None:
        return CallFormat("xml", call_open=_pattern(open_), call_close=_pattern(rest),
                          middle=_pattern(middle), string_param=param(0),
                          other_param=param(1), param_separator=separator, single=True)
    first_in_two = _xml_call(two, 0)
    if first_in_two is None:
        return None
    last_in_two = first_in_two[2][1][0]
    between = two[first_in_two[3] + len(close.replace(KEY, _KEYS[last_in_two])):
                  two.find(_NAMES[1])]
    call_close = common_prefix_text(between, rest)
    call_open = common_suffix_text(between, open_)
    return CallFormat(
        "xml", call_open=_pattern(call_open), call_close=_pattern(call_close),
        section_open=_pattern(open_[:len(open_) - len(call_open)]),
        section_close=_pattern(rest[len(call_close):]),
        separator=between[len(call_close):len(between) - len(call_open)],
        middle=_pattern(middle), string_param=param(0), other_param=param(1),
        param_separator=separator)


Param = tuple[int, str, str, str]  # which key, between key and value, quote, what follows


def _xml_call(text: str, i: int, after: int = 0) -> tuple[int, str, list[Param], int] | None:
    """Call ``i`` in ``text``: where its name is, the text between the name and the
    first argument's key, its two arguments in the order written, and where the last
    argument's value ends."""
    name = text.find(_NAMES[i], after)
    if name < 0:
        return None
    start = name + len(_NAMES[i])
    values = (_STRINGS[i], str(_NUMBERS[i]))
    found = []
    for kind in (0, 1):
        key = text.find(_KEYS[kind], start)
        value = text.find(values[kind], key + len(_KEYS[kind])) if key >= 0 else -1
        if min(key, value) < 0:
            return None
        found.append((key, kind, value))
    found.sort()
    params: list[Param] = []
    for position, (key, kind, value) in enumerate(found):
        middle = text[key + len(_KEYS[kind]):value]
        end = value + len(values[kind])
        following = text[end:found[1][0]] if position == 0 else text[end:]
        quote = ""
        for q in ('<|"|>', "'", '"'):
            if kind == 0 and middle.endswith(q) and following.startswith(q):
                quote, middle, following = q, middle[:-len(q)], following[len(q):]
                break
        params.append((kind, middle, quote, following))
    last_key, last_kind, last_value = found[1]
    end = last_value + len(values[last_kind]) + len(params[1][2])
    return name, text[start:found[0][0]], params, end


def _split_separator(text: str) -> tuple[str, str]:
    """A leading comma (Python- and JSON-like formats separate their arguments)."""
    found = re.match(r"\s*[,;]\s*", text)
    if found:
        return found.group(0), text[found.end():]
    return "", text


def _pattern(text: str) -> str:
    """Markup with the probe's ids and counters made placeholders."""
    for call_id in _IDS:
        text = text.replace(call_id, CALL_ID)
    return re.sub(r"(?<![A-Za-z0-9_])[0-9](?![A-Za-z0-9_])", NUMBER, text)


