"""Function calling with the openai SDK: the model calls get_weather, we answer.

    hoshikage run &
    python examples/tools.py
"""

from __future__ import annotations

import json
import os

from openai import OpenAI

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"},
                           "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}]


def get_weather(city: str, unit: str) -> str:
    return f"Sunny, 21 degrees {unit} in {city}"


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    messages: list = [{"role": "user", "content": "What's the weather in Paris?"}]
    # "required": the answer is always a call with arguments valid against the schema
    reply = client.chat.completions.create(model="default", messages=messages, tools=TOOLS,
                                           tool_choice="required", temperature=0)
    call = reply.choices[0].message.tool_calls[0]
    arguments = json.loads(call.function.arguments)
    print(f"model called {call.function.name}({arguments})")

    messages.append(reply.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(**arguments)})
    answer = client.chat.completions.create(model="default", messages=messages, max_tokens=40)
    print("model said:", answer.choices[0].message.content)


if __name__ == "__main__":
    main()
