"""An agent loop with the openai SDK: the model calls tools, we run them and hand the
results back, until it answers in words.

    hoshikage run &
    python examples/agent.py

The calls come in the model's own format and are held by a grammar to valid
arguments, whatever the model (see docs/api.md, "Tool calls").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from openai import OpenAI

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"]}}}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a city",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"]}}}}},
]
WEATHER = {"Paris": "sunny, 21 C", "Tokyo": "rain, 17 C", "Lima": "cloudy, 19 C"}
TIME = {"Paris": "14:05", "Tokyo": "21:05", "Lima": "07:05"}
FUNCTIONS: dict[str, Callable[..., str]] = {
    "get_weather": lambda city: WEATHER.get(city, "unknown"),
    "get_time": lambda city: TIME.get(city, "unknown"),
}


def run(client: OpenAI, model: str, question: str, max_steps: int = 4) -> str:
    messages: list[Any] = [{"role": "user", "content": question}]
    for step in range(max_steps):
        # the first step must use a tool; afterwards the model decides
        reply = client.chat.completions.create(
            model=model, messages=messages, tools=TOOLS, max_tokens=120, temperature=0,
            tool_choice="required" if step == 0 else "auto")  # type: ignore[arg-type]
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content or ""
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            result = FUNCTIONS[call.function.name](**arguments)
            print(f"step {step}: {call.function.name}({arguments}) -> {result}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    final = client.chat.completions.create(model=model, messages=messages, max_tokens=60)
    return final.choices[0].message.content or ""


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    answer = run(client, os.environ.get("HOSHIKAGE_MODEL", "default"),
                 "What is the weather in Tokyo right now?")
    print("answer:", answer)


if __name__ == "__main__":
    main()
