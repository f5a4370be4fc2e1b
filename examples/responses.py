"""The OpenAI Responses API (what Codex CLI and the OpenAI Agents SDK speak): an
answer, a follow-up through previous_response_id, and a function call round trip.

    hoshikage run &
    python examples/responses.py
"""

from __future__ import annotations

import json
import os

from openai import OpenAI

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "required": ["city"],
                          "properties": {"city": {"type": "string"}}}}


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    first = client.responses.create(model="default", instructions="Answer in one sentence.",
                                    input="What is the capital of France?", temperature=0)
    print("answer:", first.output_text)
    # the server keeps recent responses: continue from one without resending it
    second = client.responses.create(model="default", input="And of Italy?", temperature=0,
                                     previous_response_id=first.id)
    print("follow-up:", second.output_text)
    print(f"tokens: {second.usage.input_tokens} in "
          f"({second.usage.input_tokens_details.cached_tokens} cached), "
          f"{second.usage.output_tokens} out")

    ask = [{"role": "user", "content": "What's the weather in Paris?"}]
    reply = client.responses.create(model="default", input=ask, tools=[WEATHER],
                                    tool_choice="required", temperature=0)
    call = next(item for item in reply.output if item.type == "function_call")
    arguments = json.loads(call.arguments)
    print(f"model called {call.name}({arguments})")
    answer = client.responses.create(model="default", tools=[WEATHER], max_output_tokens=40,
                                     input=[*ask, call.model_dump(exclude_none=True),
                                            {"type": "function_call_output",
                                             "call_id": call.call_id,
                                             "output": f"Sunny, 21 C in {arguments['city']}"}])
    print("model said:", answer.output_text)


if __name__ == "__main__":
    main()
