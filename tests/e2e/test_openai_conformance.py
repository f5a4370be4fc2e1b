"""Every OpenAI parameter against a real server and SmolLM2, through the official SDK.

Sync and async clients, streamed and not; responses must parse into the SDK's
types with nothing required missing, and the raw JSON must have OpenAI's shape.
"""

from __future__ import annotations

import json
import re

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

M = "smollm2"
FRANCE = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False}}}
CITY_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string"}, "country": {"type": "string"},
    "population": {"type": "integer", "minimum": 0}},
    "required": ["name", "country", "population"], "additionalProperties": False}


@pytest.fixture(scope="module")
def async_client(server: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)


# -- response shapes ---------------------------------------------------------------


def test_raw_chat_body_has_openais_shape(server: RunningServer) -> None:
    body = httpx.post(f"{server.url}/v1/chat/completions", timeout=120, json={
        "model": M, "messages": FRANCE, "max_tokens": 5}).json()
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", body["id"])
    assert body["object"] == "chat.completion" and isinstance(body["created"], int)
    assert "system_fingerprint" in body and body["model"] == M
    choice = body["choices"][0]
    assert set(choice) == {"index", "message", "finish_reason", "logprobs"}
    assert choice["message"]["role"] == "assistant" and "refusal" in choice["message"]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens",
                                  "prompt_tokens_details", "completion_tokens_details"}


def test_raw_chunks_have_openais_shape(server: RunningServer) -> None:
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=120, json={
            "model": M, "messages": FRANCE, "max_tokens": 4, "stream": True}) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


# -- chat parameters ---------------------------------------------------------------


def test_every_role_and_text_parts(openai_client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in one word."}]},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees"},
        {"role": "user", "content": [{"type": "text", "text": "So, is it sunny?"}]},
    ]
    reply = openai_client.chat.completions.create(model=M, messages=messages, max_tokens=10,
                                                  temperature=0)
    assert reply.choices[0].message.content


def test_image_parts_are_refused(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    assert info.value.param == "messages[0].content[0].type"
    assert "only takes text" in str(info.value)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limits(openai_client: openai.OpenAI, field: str) -> None:
    reply = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "Write a long story."}], temperature=0,
        **{field: 6})
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 6


def test_sampling_parameters_and_seed(openai_client: openai.OpenAI) -> None:
    ask = {"model": M, "messages": [{"role": "user", "content": "Name an animal."}],
           "temperature": 1.2, "top_p": 0.9, "max_tokens": 12, "user": "alice",
           "extra_body": {"top_k": 50, "min_p": 0.02, "repeat_penalty": 1.1}}
    one = openai_client.chat.completions.create(seed=42, **ask).choices[0].message.content
    two = openai_client.chat.completions.create(seed=42, **ask).choices[0].message.content
    assert one == two
    others = {openai_client.chat.completions.create(seed=s, **ask).choices[0].message.content
              for s in (1, 2, 3)}
    assert len(others | {one}) > 1


def test_penalties_change_a_repetitive_answer(openai_client: openai.OpenAI) -> None:
    ask = {"model": M, "prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": 24, "temperature": 0}
    plain = openai_client.completions.create(**ask).choices[0].text
    for penalty in ({"frequency_penalty": 2.0}, {"presence_penalty": 2.0}):
        assert openai_client.completions.create(**ask, **penalty).choices[0].text != plain


def test_n_choices(openai_client: openai.OpenAI) -> None:
    ask = {"model": M, "messages": FRANCE, "n": 3, "seed": 5, "max_tokens": 8,
           "temperature": 1.0}
    reply = openai_client.chat.completions.create(**ask)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    again = openai_client.chat.completions.create(**ask)
    assert [c.message.content for c in reply.choices] == \
        [c.message.content for c in again.choices]
    stream = openai_client.chat.completions.create(**ask, stream=True)
    texts = ["", "", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == [c.message.content for c in reply.choices]


def test_stop_never_leaks_even_in_a_stream(openai_client: openai.OpenAI) -> None:
    ask = {"model": M, "prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": 30, "temperature": 0}
    full = openai_client.completions.create(**ask).choices[0].text
    stop = " 9, 10"  # spans several tokens
    assert stop in full
    stopped = openai_client.completions.create(**ask, stop=stop).choices[0]
    assert stopped.text == full[:full.index(stop)] and stopped.finish_reason == "stop"
    pieces = [c.choices[0].text for c in openai_client.completions.create(
        **ask, stop=[stop, "never"], stream=True) if c.choices]
    # the stream's pieces add up to the text before the stop: no part of it was sent
    assert "".join(pieces) == stopped.text


def test_logit_bias_bans_a_token(server: RunningServer, openai_client: openai.OpenAI) -> None:
    paris = httpx.post(f"{server.url}/tokenize", json={
        "model": M, "content": " Paris", "add_special": False}).json()["tokens"]
    ask = {"model": M, "prompt": "The capital of France is", "max_tokens": 5, "temperature": 0}
    assert "Paris" in openai_client.completions.create(**ask).choices[0].text
    banned = openai_client.completions.create(**ask, logit_bias={str(paris[0]): -100})
    assert " Paris" not in banned.choices[0].text


def test_chat_logprobs_streamed_and_not(openai_client: openai.OpenAI) -> None:
    reply = openai_client.chat.completions.create(model=M, messages=FRANCE, max_tokens=5,
                                                  temperature=0, logprobs=True, top_logprobs=3)
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and "".join(t.token for t in content) == reply.choices[0].message.content
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob >= token.top_logprobs[-1].logprob
        assert token.top_logprobs[0].token == token.token  # greedy: the best one
        assert bytes(token.bytes or []).decode() == token.token
    stream = openai_client.chat.completions.create(model=M, messages=FRANCE, max_tokens=5,
                                                   temperature=0, logprobs=True, stream=True)
    streamed = [t for c in stream if c.choices and c.choices[0].logprobs
                for t in c.choices[0].logprobs.content or []]
    assert [t.token for t in streamed] == [t.token for t in content]


def test_json_object_mode(openai_client: openai.OpenAI) -> None:
    reply = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "Give me a JSON object with a name and "
                                                       "an age."}],
        response_format={"type": "json_object"}, temperature=0, max_tokens=200)
    assert reply.choices[0].finish_reason == "stop"  # the grammar let it end the object
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
    # a model that loops is cut at max_tokens like any answer: "length", not "stop"
    looping = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "Reply in JSON: what is 2+2?"}],
        response_format={"type": "json_object"}, temperature=0, max_tokens=40)
    assert looping.choices[0].finish_reason == "length"


def test_json_schema_output_validates(openai_client: openai.OpenAI) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY_SCHEMA,
                                                  "strict": True}}
    for temperature in (0, 1.0):
        reply = openai_client.chat.completions.create(
            model=M, messages=[{"role": "user", "content": "Tell me about Rome."}],
            response_format=fmt, temperature=temperature, seed=3, max_tokens=200)
        jsonschema.validate(json.loads(reply.choices[0].message.content or ""), CITY_SCHEMA)
    stream = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "Tell me about Oslo."}],
        response_format=fmt, temperature=0, max_tokens=200, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    jsonschema.validate(json.loads(text), CITY_SCHEMA)


def test_sdk_parse_with_a_pydantic_model(openai_client: openai.OpenAI) -> None:
    class City(BaseModel):
        name: str
        country: str
        population: int

    reply = openai_client.chat.completions.parse(
        model=M, messages=[{"role": "user", "content": "Describe Paris."}], response_format=City,
        temperature=0, max_tokens=200)
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, City) and parsed.name


@pytest.mark.parametrize("choice", ["required", {"type": "function",
                                                 "function": {"name": "get_weather"}}])
def test_forced_tool_calls(openai_client: openai.OpenAI, choice: object) -> None:
    other = {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string"}}}}}
    reply = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER, other], tool_choice=choice, temperature=0)  # type: ignore[arg-type]
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.content is None
    [call] = message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    if isinstance(choice, dict):
        assert call.function.name == "get_weather"
    if call.function.name == "get_weather":
        jsonschema.validate(json.loads(call.function.arguments),
                            WEATHER["function"]["parameters"])


def test_streamed_tool_call_deltas(openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model=M, messages=[{"role": "user", "content": "Weather in Tokyo, in celsius?"}],
        tools=[WEATHER], tool_choice="required", temperature=0, stream=True,
        stream_options={"include_usage": True})
    name, arguments, finish, usage = "", "", None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                name += delta.function.name or "" if delta.function else ""
                arguments += delta.function.arguments or "" if delta.function else ""
    assert name == "get_weather" and finish == "tool_calls" and usage is not None
    jsonschema.validate(json.loads(arguments), WEATHER["function"]["parameters"])


def test_auto_and_none_tool_choice_answer_in_text(openai_client: openai.OpenAI) -> None:
    for choice in ("auto", "none"):
        reply = openai_client.chat.completions.create(
            model=M, messages=[{"role": "user", "content": "Say hello."}], tools=[WEATHER],
            tool_choice=choice, temperature=0, max_tokens=12)  # type: ignore[arg-type]
        result = reply.choices[0]
        assert result.finish_reason in ("stop", "length", "tool_calls")
        if result.finish_reason != "tool_calls":
            assert result.message.content and result.message.tool_calls is None


def test_include_usage_in_a_stream(openai_client: openai.OpenAI) -> None:
    chunks = list(openai_client.chat.completions.create(
        model=M, messages=FRANCE, max_tokens=4, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_context_length_exceeded_names_the_counts(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model=M, stream=True, messages=[
            {"role": "user", "content": "word " * 3000}])
    assert info.value.code == "context_length_exceeded"
    assert "2048 tokens" in str(info.value)


# -- completions ------------------------------------------------------------------


def test_completion_prompts_in_every_form(server: RunningServer,
                                          openai_client: openai.OpenAI) -> None:
    tokens = httpx.post(f"{server.url}/tokenize", json={
        "model": M, "content": "The capital of France is"}).json()["tokens"]
    ask = {"model": M, "max_tokens": 3, "temperature": 0}
    as_text = openai_client.completions.create(prompt="The capital of France is", **ask)
    as_tokens = openai_client.completions.create(prompt=tokens, **ask)
    assert as_tokens.choices[0].text == as_text.choices[0].text
    several = openai_client.completions.create(prompt=[tokens, tokens], n=2, **ask)
    assert [c.index for c in several.choices] == [0, 1, 2, 3]
    assert several.usage is not None and several.usage.prompt_tokens == 2 * len(tokens)
    echoed = openai_client.completions.create(prompt=tokens, echo=True, **ask)
    assert echoed.choices[0].text == "The capital of France is" + as_text.choices[0].text


def test_completion_logprobs(openai_client: openai.OpenAI) -> None:
    reply = openai_client.completions.create(model=M, prompt="The capital of France is",
                                             max_tokens=4, temperature=0, logprobs=2)
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and "".join(logprobs.tokens or []) == reply.choices[0].text
    assert len(logprobs.top_logprobs or []) == 4 and all(len(t) == 2 for t in
                                                        logprobs.top_logprobs or [])
    assert logprobs.text_offset == sorted(logprobs.text_offset or [])


def test_suffix_is_refused_without_fill_in_the_middle(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.completions.create(model=M, prompt="def f(", suffix="return 1")
    assert info.value.param == "suffix"


# -- embeddings, models, extras -----------------------------------------------------


def test_embeddings_in_every_input_form(openai_client: openai.OpenAI) -> None:
    result = openai_client.embeddings.create(model=M, input=["cat", "dog", "car insurance"])
    vectors = [d.embedding for d in result.data]
    assert len(vectors) == 3 and len(vectors[0]) == 576
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-3  # normalised

    def similarity(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b))

    assert similarity(vectors[0], vectors[1]) > similarity(vectors[0], vectors[2])
    floats = openai_client.embeddings.create(model=M, input="cat", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-5)
    assert floats.usage.prompt_tokens >= 1 and floats.model == M
    tokens = openai_client.embeddings.create(model=M, input=[[1, 2, 3], [4, 5]])
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 5


def test_models_retrieve(openai_client: openai.OpenAI) -> None:
    assert openai_client.models.retrieve("default").id == M
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("gpt-5")


def test_detokenize_round_trip(server: RunningServer) -> None:
    tokens = httpx.post(f"{server.url}/tokenize", json={"model": M, "content": "Héllo wörld",
                                                        "add_special": False}).json()["tokens"]
    text = httpx.post(f"{server.url}/detokenize", json={"model": M, "tokens": tokens}).json()
    assert text == {"content": "Héllo wörld"}
    bad = httpx.post(f"{server.url}/detokenize", json={"model": M, "tokens": [10**9]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"


def test_sdk_raises_like_openai(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="nope", messages=FRANCE)
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model=M, messages=FRANCE, n=0)
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.completions.create(model="truncated", prompt="x")
    assert info.value.status_code == 500


# -- async client --------------------------------------------------------------------


async def test_async_client_chat_stream_and_embeddings(async_client: openai.AsyncOpenAI) -> None:
    reply = await async_client.chat.completions.create(model=M, messages=FRANCE, temperature=0)
    assert "Paris" in (reply.choices[0].message.content or "")
    stream = await async_client.chat.completions.create(model=M, messages=FRANCE,
                                                        temperature=0, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == reply.choices[0].message.content
    embedded = await async_client.embeddings.create(model=M, input="hello")
    assert len(embedded.data[0].embedding) == 576


async def test_async_client_raises_and_takes_every_kind_of_request(
        async_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await async_client.chat.completions.create(model="nope", messages=FRANCE)
    with pytest.raises(openai.BadRequestError) as info:
        await async_client.chat.completions.create(model=M, messages=FRANCE, temperature=3)
    assert info.value.param == "temperature"
    with pytest.raises(openai.APIStatusError) as failed:
        await async_client.completions.create(model="truncated", prompt="x")
    assert failed.value.status_code == 500
    completion = await async_client.completions.create(model=M, prompt="1, 2, 3,",
                                                       max_tokens=4, temperature=0)
    streamed = await async_client.completions.create(model=M, prompt="1, 2, 3,", max_tokens=4,
                                                     temperature=0, stream=True)
    assert "".join([c.choices[0].text async for c in streamed if c.choices]) == \
        completion.choices[0].text
    assert (await async_client.models.retrieve("default")).id == M
