"""Bad values a real server must refuse as OpenAI does (400 naming the field), through
the official SDK and raw HTTP; and the edge a valid ``max_tokens`` may reach."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

HELLO = [{"role": "user", "content": "Hello"}]
NO_EOS = {"2": -100}  # the tiny model's </s>: its weights are random


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_max_tokens_beyond_the_context_is_400(openai_client: openai.OpenAI,
                                              stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as chat:
        openai_client.chat.completions.create(model="default", messages=HELLO,  # type: ignore[call-overload]
                                              max_tokens=10**12, stream=stream)
    error = chat.value.response.json()["error"]
    assert error["param"] == "max_tokens" and "2048" in error["message"], error
    with pytest.raises(openai.BadRequestError) as completion:
        openai_client.completions.create(model="tiny", prompt="x", max_tokens=257,
                                         stream=stream)
    assert completion.value.response.json()["error"]["param"] == "max_tokens"


def test_max_completion_tokens_beyond_the_context_is_400(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model="tiny", messages=HELLO,
                                              max_completion_tokens=100_000)
    assert info.value.response.json()["error"]["param"] == "max_tokens"


def test_max_tokens_within_the_context_runs_to_its_end(openai_client: openai.OpenAI) -> None:
    """n_ctx 256: the whole context may be asked for; the answer stops where it ends."""
    reply = openai_client.completions.create(model="tiny", prompt="abc", max_tokens=256,
                                             temperature=0, logit_bias=NO_EOS)
    usage = reply.usage
    assert reply.choices[0].finish_reason == "length" and usage is not None
    assert usage.prompt_tokens + usage.completion_tokens == 256


@pytest.mark.parametrize(("field", "value"), [
    ("stream", "yes"), ("stream", 1), ("n", "2"), ("max_tokens", "5"), ("temperature", "0"),
    ("logprobs", "true"), ("seed", "7"),
])
def test_values_of_the_wrong_type_are_400(server: RunningServer, field: str,
                                          value: Any) -> None:
    body = {"model": "tiny", "messages": HELLO, "max_tokens": 2, field: value}
    reply = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == field and error["type"] == "invalid_request_error", error


def test_unknown_fields_are_still_ignored(server: RunningServer) -> None:
    body = {"model": "tiny", "messages": HELLO, "max_tokens": 2, "service_tier": "auto",
            "metadata": {"a": "b"}, "store": False}
    reply = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
