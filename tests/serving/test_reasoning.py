"""Thinking apart from the answer: markers learned from the template, a block the
prompt opened, budgets, raw mode, and token counts."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest

from hoshikage_core import ChatMessage
from hoshikage_core.kit.templates import ChatTemplate
from hoshikage_core.serving import ChatRequest, ReasoningDelta, Sampling, TextDelta
from hoshikage_core.serving.formats.reasoning import (
    ReasoningFormat,
    ReasoningSplitter,
    learn_reasoning,
)
from tests.serving.scripted import Scripted, scripted_hoshikage

# the model writes <think> itself (Qwen3-like); earlier thinking is shown in history
WRITES_THINK = """{%- for m in messages %}<|im_start|>{{ m.role }}
{% if m.reasoning_content %}<think>
{{ m.reasoning_content }}
</think>

{% endif %}{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""
# the prompt opens the block (Qwen3.5 / DeepSeek-R1-like), unless thinking is off
OPENS_THINK = """{%- for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and not enable_thinking %}<think>

</think>

{% else %}<think>
{% endif %}{% endif %}"""
SEED_LIKE = """{% for m in messages %}<seed:bos>{{ m.role }}
{% if m.reasoning_content %}<seed:think>{{ m.reasoning_content }}</seed:think>
{% endif %}{{ m.content }}<seed:eos>{% endfor %}{% if add_generation_prompt %}<seed:bos>assistant
{% endif %}"""


@pytest.mark.parametrize(("source", "markers", "opened"), [
    (WRITES_THINK, ("<think>", "</think>"), False),
    (OPENS_THINK, ("<think>", "</think>"), True),
    (SEED_LIKE, ("<seed:think>", "</seed:think>"), False),
])
def test_markers_are_learned_from_the_template(source: str, markers: tuple[str, str],
                                               opened: bool) -> None:
    template = ChatTemplate(source)
    fmt = learn_reasoning(template)
    assert fmt is not None and (fmt.open, fmt.close) == markers
    assert fmt.starts_open(template.render([ChatMessage("user", "hi")])) is opened


def test_a_template_without_thinking_has_no_format() -> None:
    plain = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    assert learn_reasoning(ChatTemplate(plain)) is None


def split(pieces: list[str], *, starts_open: bool) -> list[tuple[str, str]]:
    splitter = ReasoningSplitter(ReasoningFormat("<think>", "</think>"), starts_open=starts_open)
    out = [part for piece in pieces for part in splitter.feed(piece)] + splitter.flush()
    joined: list[tuple[str, str]] = []
    for kind, text in out:  # adjacent pieces of one kind, joined
        if joined and joined[-1][0] == kind:
            joined[-1] = (kind, joined[-1][1] + text)
        else:
            joined.append((kind, text))
    return joined


def test_markers_split_across_pieces_never_leak() -> None:
    pieces = ["\n<th", "ink>\nLet me", " think.</th", "ink>", "\n\nParis", "."]
    assert split(pieces, starts_open=False) == [("reasoning", "\nLet me think."),
                                                ("content", "Paris.")]


def test_a_block_the_prompt_opened_and_one_never_closed() -> None:
    assert split(["hmm", " ok</think>Yes"], starts_open=True) == [("reasoning", "hmm ok"),
                                                                   ("content", "Yes")]
    assert split(["still", " thinking"], starts_open=True) == [("reasoning", "still thinking")]
    assert split(["No think here <think>x</think>"], starts_open=False) == [
        ("content", "No think here <think>x</think>")]  # thinking comes first, or not at all


async def test_reasoning_comes_apart_streamed_and_whole_alike(tmp_path: Path) -> None:
    answer = ["<think>", "\nThe user", " asks.", "\n</think>", "\n\nHello", "!"]
    backend = Scripted(WRITES_THINK, answers=[list(answer), list(answer)])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        request = ChatRequest("m", [ChatMessage("user", "Hi")])
        result = await hk.chat(request)
        async with aclosing(hk.stream_chat(request)) as stream:
            events = [e async for e in stream]
    assert result.reasoning == "\nThe user asks.\n" and result.text == "Hello!"
    streamed = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert streamed == result.reasoning
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == result.text
    assert result.usage.reasoning_tokens == 3 and result.usage.completion_tokens == 6


async def test_earlier_thinking_goes_back_into_the_template(tmp_path: Path) -> None:
    backend = Scripted(WRITES_THINK)
    async with scripted_hoshikage(tmp_path, backend) as hk:
        await hk.chat([ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello",
                                                              reasoning="be nice"),
                       ChatMessage("user", "Again")], model="m")
    assert "<think>\nbe nice\n</think>\n\nHello" in (backend.requests[0].chat_prompt or "")


async def test_raw_mode_and_thinking_turned_off(tmp_path: Path) -> None:
    backend = Scripted(OPENS_THINK, answers=[["hmm", "</think>", "Yes"], ["Yes"]])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        raw = await hk.chat(ChatRequest("m", [ChatMessage("user", "Hi")],
                                        reasoning_format="none"))
        off = await hk.chat(ChatRequest("m", [ChatMessage("user", "Hi")],
                                        chat_template_kwargs={"enable_thinking": False}))
    assert raw.reasoning is None and raw.text == "hmm</think>Yes"
    assert off.reasoning is None and off.text == "Yes"
    assert (backend.requests[1].chat_prompt or "").endswith("<think>\n\n</think>\n\n")


async def test_a_budget_closes_the_block_and_the_answer_goes_on(tmp_path: Path) -> None:
    backend = Scripted(OPENS_THINK, answers=[["a", "b", "c", "d", "e", "f"], ["Done", "."]])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        result = await hk.chat(ChatRequest("m", [ChatMessage("user", "Hi")],
                                           reasoning_budget=3,
                                           sampling=Sampling(max_tokens=10)))
    assert result.reasoning == "abc" and result.text == "Done."
    first, second = backend.requests
    assert second.chat_prompt == (first.chat_prompt or "") + "abc</think>\n\n"
    assert second.max_tokens == 10 - 3  # what the first generation spent counts
    assert result.usage.reasoning_tokens == 3 and result.usage.completion_tokens == 3 + 2
    assert result.usage.prompt_tokens == 7 - 3  # the scripted prompt, less the thinking


async def test_effort_none_turns_thinking_off(tmp_path: Path) -> None:
    backend = Scripted(OPENS_THINK, answers=[["Yes"]])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        result = await hk.chat(ChatRequest("m", [ChatMessage("user", "Hi")],
                                           reasoning_effort="none"))
    assert result.text == "Yes" and result.reasoning is None
