"""What the prompt cache and speculative decoding do for an agent, seen in ``usage``.

Two chat sessions share a long system prompt and take turns. On a model with one
slot, each session's turn overwrites the other's KV cells; the host-memory prompt
cache keeps them, so a session's next turn evaluates only what is new. Then an
edit whose answer copies its prompt: drafted tokens the model accepted are
reported as ``accepted_prediction_tokens``.

    hoshikage run &
    python examples/agent_sessions.py
"""

from __future__ import annotations

import os

from openai import OpenAI

SYSTEM = "You are a patient assistant for a team of researchers. " + " ".join(
    f"Rule {i}: answer in one short sentence and name one fact." for i in range(20))
PARAGRAPH = ("The lighthouse stood at the edge of the cliff for more than two hundred "
             "years. Every night its keeper climbed the narrow stairs, trimmed the wick and "
             "polished the great lens, so that ships passing in the dark would know where "
             "the rocks were.")


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    sessions = {name: [{"role": "system", "content": SYSTEM}] for name in ("A", "B")}
    for turn in (1, 2):
        for name, history in sessions.items():
            history.append({"role": "user",
                            "content": f"Session {name}, question {turn}: name a river."})
            reply = client.chat.completions.create(model="default", messages=history,  # type: ignore[arg-type]
                                                   max_tokens=16, temperature=0)
            history.append({"role": "assistant", "content": reply.choices[0].message.content})
            usage = reply.usage
            assert usage is not None and usage.prompt_tokens_details is not None
            print(f"session {name} turn {turn}: {usage.prompt_tokens_details.cached_tokens} of "
                  f"{usage.prompt_tokens} prompt tokens cached")

    edit = client.chat.completions.create(
        model="default", temperature=0, max_tokens=80,
        messages=[{"role": "user", "content": "Copy this paragraph exactly, but replace "
                   f"'lighthouse' with 'tower'.\n\n{PARAGRAPH}"}])
    usage = edit.usage
    assert usage is not None and usage.completion_tokens_details is not None
    details = usage.completion_tokens_details
    print(f"edit: {usage.completion_tokens} tokens written, "
          f"{details.accepted_prediction_tokens} drafted tokens accepted, "
          f"{details.rejected_prediction_tokens} rejected")
    print(edit.choices[0].message.content)


if __name__ == "__main__":
    main()
