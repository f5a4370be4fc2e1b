"""Thinking apart from the answer, as a library (no server): reasoning_content,
a thinking budget, and thinking turned off.

    python examples/reasoning.py --model path/to/a-thinking-model.gguf   # e.g. Qwen3, DeepSeek-R1
    python examples/reasoning.py                                          # a tiny stand-in model

Without --model it writes a tiny random-weight GGUF (needs the `gguf` package, in
the dev extras) whose chat template opens a think block the way DeepSeek-R1 and
Qwen3.5 do: its "thoughts" are noise, but they come back where thoughts go.
Over HTTP the same fields are message.reasoning_content and delta.reasoning_content.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from hoshikage_core import ChatMessage, Hoshikage
from hoshikage_core.serving import ChatRequest, Sampling

THINKS = """{%- for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and not enable_thinking %}<think>

</think>

{% else %}<think>
{% endif %}{% endif %}"""


async def main(model: Path) -> None:
    async with Hoshikage({"models": {"m": {"path": str(model)}}}) as hk:
        question = [ChatMessage("user", "Is 17 a prime number?")]
        sampling = Sampling(max_tokens=48, temperature=0, logit_bias={2: -100})
        result = await hk.chat(ChatRequest("m", question, sampling=sampling))
        print("reasoning:", repr(result.reasoning))
        print("answer:   ", repr(result.text))
        print("tokens:   ", result.usage.completion_tokens, "of which thinking",
              result.usage.reasoning_tokens)
        budgeted = await hk.chat(ChatRequest("m", question, sampling=sampling,
                                             reasoning_budget=8))
        print("with a budget of 8 tokens: thinking", budgeted.usage.reasoning_tokens,
              "then answer", repr(budgeted.text))
        quick = await hk.chat(ChatRequest("m", question, sampling=sampling,
                                          chat_template_kwargs={"enable_thinking": False}))
        print("thinking off:", repr(quick.reasoning), "->", repr(quick.text))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a GGUF of a model that thinks")
    args = parser.parse_args()
    if args.model:
        asyncio.run(main(args.model))
    else:
        from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(write_tiny_gguf(Path(folder) / "thinker.gguf",
                                             context_length=4096, chat_template=THINKS)))
