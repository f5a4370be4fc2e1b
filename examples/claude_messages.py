"""Talk to a running Hoshikage with the official anthropic SDK (as Claude Code does):
a streamed answer, then a tool call and its result.

    hoshikage run &
    python examples/claude_messages.py

HOSHIKAGE_URL (default http://127.0.0.1:3030/v1) and HOSHIKAGE_API_KEY set where to
connect and which key to send; the anthropic SDK wants the server's root URL.
"""

from __future__ import annotations

import os

import anthropic

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "required": ["city"],
                     "properties": {"city": {"type": "string"}}},
}


def main() -> None:
    url = os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1").removesuffix("/v1")
    client = anthropic.Anthropic(base_url=url,
                                 api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    question = {"role": "user", "content": "What is the capital of France?"}
    with client.messages.stream(model="default", max_tokens=60, messages=[question],
                                system="Answer in one sentence.",
                                extra_body={"temperature": 0}) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
    print(f"\n[{stream.get_final_message().stop_reason}]")

    ask = {"role": "user", "content": "What's the weather in Paris?"}
    # "any": the answer must call a tool, with input valid against its schema
    reply = client.messages.create(model="default", max_tokens=100, messages=[ask],
                                   tools=[WEATHER], tool_choice={"type": "any"},
                                   extra_body={"temperature": 0})
    use = next(block for block in reply.content if block.type == "tool_use")
    print(f"model called {use.name}({use.input}) [{reply.stop_reason}]")
    answer = client.messages.create(model="default", max_tokens=40, tools=[WEATHER], messages=[
        ask,
        {"role": "assistant", "content": [use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": f"Sunny, 21 C in {use.input['city']}"}]},
    ])
    print("model said:", "".join(b.text for b in answer.content if b.type == "text"))


if __name__ == "__main__":
    main()
