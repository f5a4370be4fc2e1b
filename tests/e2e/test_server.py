"""A real ``hoshikage run`` process, real models, the official ``openai`` SDK."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

NO_EOS = "2"  # the tiny model's </s>: banned where a test counts tokens (random weights)
FRANCE = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_listings_and_health_never_load_a_model(server: RunningServer,
                                                openai_client: openai.OpenAI) -> None:
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    models = {m.id: m for m in openai_client.models.list()}
    assert {"smollm2", "tiny", "never-used"} <= set(models)
    assert models["smollm2"].model_extra["aliases"] == ["default"]  # type: ignore[index]
    assert models["never-used"].model_extra["state"] == "unloaded"  # type: ignore[index]


def test_chat_answers_paris(openai_client: openai.OpenAI) -> None:
    reply = openai_client.chat.completions.create(model="default", messages=FRANCE,
                                                  temperature=0)
    assert "Paris" in (reply.choices[0].message.content or "")
    assert reply.model == "smollm2"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_stream_yields_deltas_and_a_finish_reason(openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model="default", messages=FRANCE, temperature=0, seed=1, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices]
    assert sum(1 for d in deltas if d) >= 2  # really streamed, piece by piece
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and
              c.choices[0].finish_reason]
    assert finish == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    whole = openai_client.chat.completions.create(model="default", messages=FRANCE,
                                                  temperature=0, seed=1)
    assert "".join(d or "" for d in deltas) == whole.choices[0].message.content
    assert whole.usage is not None and usage.completion_tokens == whole.usage.completion_tokens


def test_completions_raw_prompt_with_length_and_stop(openai_client: openai.OpenAI) -> None:
    reply = openai_client.completions.create(model="smollm2", prompt="1, 2, 3, 4,",
                                             max_tokens=5, temperature=0)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    stopped = openai_client.completions.create(model="smollm2", prompt="1, 2, 3, 4,",
                                               max_tokens=20, temperature=0, stop=["7"])
    assert stopped.choices[0].finish_reason == "stop"
    assert "7" not in stopped.choices[0].text and "5" in stopped.choices[0].text


def test_completion_stream(openai_client: openai.OpenAI) -> None:
    stream = openai_client.completions.create(model="tiny", prompt="abc", max_tokens=6,
                                              logit_bias={NO_EOS: -100},
                                              temperature=0, stream=True)
    chunks = list(stream)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_second_model_is_routed_by_name(openai_client: openai.OpenAI) -> None:
    reply = openai_client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
        logit_bias={NO_EOS: -100})
    assert reply.model == "tiny"
    assert reply.usage is not None and reply.usage.completion_tokens == 4


def test_errors_come_back_as_sdk_exceptions(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.chat.completions.create(model="gpt-4o", messages=FRANCE)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        openai_client.chat.completions.create(model="default", messages=FRANCE, temperature=9)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as too_long:
        openai_client.completions.create(model="tiny", prompt="x" * 400, max_tokens=2)
    assert too_long.value.code == "context_length_exceeded"
    # and the server is still fine
    assert openai_client.completions.create(model="tiny", prompt="ok", max_tokens=1).choices


def test_raw_sse_ends_with_done(server: RunningServer) -> None:
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json={
        "model": "tiny", "messages": [{"role": "user", "content": "x"}], "max_tokens": 3,
        "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        data = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "data: [DONE]"


def test_client_disconnect_stops_the_generation(server: RunningServer,
                                                openai_client: openai.OpenAI) -> None:
    body = {"model": "smollm2", "prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": 1500,
            "temperature": 0, "stream": True}  # greedy counting: long, never an early end
    with httpx.stream("POST", f"{server.url}/v1/completions", json=body) as response:
        events = 0
        for line in response.iter_lines():
            events += line.startswith("data: ")
            if events == 3:
                break
    # the model is free again: a new request is served and completes
    reply = openai_client.completions.create(model="smollm2", prompt="Hi", max_tokens=3)
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    stopped = [line for line in server.log().splitlines()
               if "smollm2: generation stopped early after" in line]
    assert stopped, server.log()[-2000:]
    chunks = int(stopped[-1].split("after ")[1].split()[0])
    assert chunks < 1500  # cut short, not run to max_tokens


def test_a_ctransformers_model_serves_completions_and_chat(
        openai_client: openai.OpenAI) -> None:
    """The second built-in backend over HTTP, through the SDK, streamed and not."""
    ask: dict[str, Any] = {"model": "tiny-ct", "max_tokens": 5, "temperature": 0}
    completion = openai_client.completions.create(prompt="Hello", **ask)
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert 1 <= completion.usage.completion_tokens <= 5 and completion.usage.prompt_tokens >= 2
    streamed = "".join(c.choices[0].text for c in openai_client.completions.create(
        prompt="Hello", stream=True, **ask) if c.choices)
    assert streamed == completion.choices[0].text
    chat = openai_client.chat.completions.create(
        messages=[{"role": "user", "content": "Hi"}], **ask)
    assert chat.choices[0].finish_reason in ("stop", "length")
    assert chat.usage.prompt_tokens > completion.usage.prompt_tokens  # the ChatML around it
    chunks = list(openai_client.chat.completions.create(
        messages=[{"role": "user", "content": "Hi"}], stream=True, **ask))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        chat.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as info:  # a field it cannot honour: refused
        openai_client.completions.create(prompt="Hello", logit_bias={"5": 1}, **ask)
    assert info.value.param == "logit_bias"
