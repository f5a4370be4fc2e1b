"""Each chat and completion parameter streamed and not, through the official SDK against
a real server on SmolLM2: the stream must carry what the whole answer carries. Also the
raw shapes of completion and model bodies."""

from __future__ import annotations

import json
import re

import httpx
import openai
import pytest

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

M = "smollm2"


# -- every parameter, streamed and not -------------------------------------------------

CHAT_PARAMETERS: dict[str, dict[str, object]] = {
    "seed": {"seed": 7, "temperature": 1.0},
    "penalties": {"presence_penalty": 1.5, "frequency_penalty": 1.0, "temperature": 0},
    "logit_bias": {"logit_bias": {"28": -100, "30": -100}, "temperature": 0},
    "max_completion_tokens": {"max_completion_tokens": 5, "temperature": 0},
    "top_p and extras": {"temperature": 0.9, "top_p": 0.5, "seed": 3,
                         "extra_body": {"top_k": 20, "min_p": 0.05, "repeat_penalty": 1.2}},
    "json_object": {"response_format": {"type": "json_object"}, "temperature": 0,
                    "max_tokens": 60},
    "stop": {"stop": [".", "\n"], "temperature": 0},
    "user": {"user": "alice", "temperature": 0},
}


@pytest.mark.parametrize("name", sorted(CHAT_PARAMETERS))
def test_chat_parameter_streamed_and_not(openai_client: openai.OpenAI, name: str) -> None:
    """The stream carries exactly what the whole answer carries, parameter by parameter."""
    ask: dict[str, object] = {"model": M, "max_tokens": 16, "messages": [
        {"role": "user", "content": "Describe Paris in a JSON object."}], **CHAT_PARAMETERS[name]}
    whole = openai_client.chat.completions.create(**ask)  # type: ignore[call-overload]
    chunks = list(openai_client.chat.completions.create(  # type: ignore[call-overload]
        **ask, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and
              c.choices[0].finish_reason]
    assert finish == [whole.choices[0].finish_reason]
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    if name == "max_completion_tokens":
        assert whole.usage.completion_tokens == 5 and finish == ["length"]
    if name == "json_object" and finish == ["stop"]:
        assert isinstance(json.loads(text), dict)
    if name == "stop":
        assert "." not in text and "\n" not in text


COMPLETION_PARAMETERS: dict[str, dict[str, object]] = {
    "echo": {"echo": True},
    "logprobs": {"logprobs": 2},
    "seed": {"seed": 11, "temperature": 1.0},
    "penalties": {"frequency_penalty": 2.0, "presence_penalty": 0.5},
    "logit_bias": {"logit_bias": {"28": -100}},
    "n": {"n": 2, "seed": 4, "temperature": 1.0},
}


@pytest.mark.parametrize("name", sorted(COMPLETION_PARAMETERS))
def test_completion_parameter_streamed_and_not(openai_client: openai.OpenAI,
                                               name: str) -> None:
    ask: dict[str, object] = {"model": M, "prompt": "1, 2, 3, 4,", "max_tokens": 8,
                              "temperature": 0, **COMPLETION_PARAMETERS[name]}
    whole = openai_client.completions.create(**ask)  # type: ignore[call-overload]
    texts: dict[int, str] = {}
    tokens: dict[int, list[str]] = {}
    for chunk in openai_client.completions.create(**ask, stream=True):  # type: ignore[call-overload]
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            if choice.logprobs is not None:
                tokens.setdefault(choice.index, []).extend(choice.logprobs.tokens or [])
    assert [texts[c.index] for c in whole.choices] == [c.text for c in whole.choices]
    if name == "echo":
        assert whole.choices[0].text.startswith("1, 2, 3, 4,")
    if name == "logprobs":
        assert whole.choices[0].logprobs is not None
        assert tokens[0] == whole.choices[0].logprobs.tokens


def test_raw_completion_and_model_bodies_have_openais_shape(server: RunningServer) -> None:
    body = httpx.post(f"{server.url}/v1/completions", timeout=120, json={
        "model": M, "prompt": "Hello", "max_tokens": 3}).json()
    assert re.fullmatch(r"cmpl-[0-9a-f]{32}", body["id"])
    assert body["object"] == "text_completion" and isinstance(body["created"], int)
    assert body["model"] == M and "system_fingerprint" in body
    assert set(body["choices"][0]) == {"index", "text", "finish_reason", "logprobs"}
    with httpx.stream("POST", f"{server.url}/v1/completions", timeout=120, json={
            "model": M, "prompt": "Hello", "max_tokens": 3, "stream": True}) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(e) for e in events[:-1]]
    assert events[-1] == "[DONE]" and {c["object"] for c in chunks} == {"text_completion"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("cmpl-")
    model = httpx.get(f"{server.url}/v1/models/{M}").json()
    assert model["object"] == "model" and model["id"] == M and model["owned_by"]
    assert isinstance(model["created"], int)
    listing = httpx.get(f"{server.url}/v1/models").json()
    assert listing["object"] == "list" and {m["object"] for m in listing["data"]} == {"model"}


def test_logit_bias_outside_the_vocabulary_is_refused(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.completions.create(model=M, prompt="Hi", max_tokens=2,
                                         logit_bias={"99999999": -100})
    assert info.value.param == "logit_bias"
