"""Chat templates for backends: named ones (ChatML, Llama 3, …) and a sandboxed renderer.

A backend whose model carries its own template (a GGUF's
``tokenizer.chat_template``) renders that; :data:`NAMED_TEMPLATES` serve
models without one and the ``chat_format`` option. The table holds plain
strings, so config validation can check names without importing jinja2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..types import ChatMessage

__all__ = ["CHATML", "NAMED_TEMPLATES", "ChatTemplate", "NamedTemplate",
           "messages_for_template"]


@dataclass(frozen=True)
class NamedTemplate:
    jinja: str
    stops: tuple[str, ...] = ()


CHATML = NamedTemplate(
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    ("<|im_end|>",),
)

NAMED_TEMPLATES: dict[str, NamedTemplate] = {
    "chatml": CHATML,
    "llama-2": NamedTemplate(
        "{% if messages[0]['role'] == 'system' %}"
        "{% set system = messages[0]['content'] %}{% set loop_messages = messages[1:] %}"
        "{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if message['role'] == 'user' %}"
        "{% if loop.index0 == 0 and system %}"
        "{{ bos_token + '[INST] <<SYS>>\n' + system + '\n<</SYS>>\n\n' + message['content']"
        " + ' [/INST]' }}"
        "{% else %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
        "{% elif message['role'] == 'assistant' %}"
        "{{ ' ' + message['content'] + ' ' + eos_token }}"
        "{% endif %}{% endfor %}",
    ),
    "llama-3": NamedTemplate(
        "{{ bos_token }}{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        ("<|eot_id|>",),
    ),
    "mistral-instruct": NamedTemplate(
        "{{ bos_token }}{% set system = namespace(text='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}"
        "{% set system.text = system.text + message['content'] + '\n\n' %}"
        "{% elif message['role'] == 'user' %}"
        "{{ '[INST] ' + system.text + message['content'] + ' [/INST]' }}"
        "{% set system.text = '' %}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
        "{% endif %}{% endfor %}",
    ),
    "gemma": NamedTemplate(
        "{{ bos_token }}{% for message in messages %}"
        "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}",
        ("<end_of_turn>",),
    ),
    "phi-3": NamedTemplate(
        "{% for message in messages %}"
        "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
        ("<|end|>",),
    ),
    "zephyr": NamedTemplate(
        "{% for message in messages %}"
        "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
        ("</s>",),
    ),
}


class ChatTemplate:
    """A Jinja chat template, rendered in a sandbox the way Hugging Face does.

    ``render`` returns the prompt text; ``stops`` are extra stop strings for
    templates whose end-of-turn marker is not a special token.
    """

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "",
                 stops: tuple[str, ...] = ()) -> None:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[jinja2.ext.loopcontrols])
        env.filters["tojson"] = _tojson
        self._template = env.from_string(source)
        self.bos_token, self.eos_token, self.stops = bos_token, eos_token, stops

    @classmethod
    def named(cls, name: str, *, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
        template = NAMED_TEMPLATES[name]
        return cls(template.jinja, stops=template.stops, bos_token=bos_token,
                   eos_token=eos_token)

    def render(self, messages: list[dict[str, Any]],
               tools: list[dict[str, Any]] | None = None) -> str:
        def raise_exception(message: str) -> None:
            raise ValueError(message)

        return str(self._template.render(
            messages=messages, tools=tools, add_generation_prompt=True,
            bos_token=self.bos_token, eos_token=self.eos_token,
            raise_exception=raise_exception,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        ))


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, separators=separators,
                      sort_keys=sort_keys)


def messages_for_template(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Chat turns as the dicts chat templates expect (``developer`` → ``system``)."""
    turns: list[dict[str, Any]] = []
    for m in messages:
        turn: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role,
                                "content": m.content}
        if m.name:
            turn["name"] = m.name
        if m.tool_calls:
            turn["tool_calls"] = [dict(c) for c in m.tool_calls]
        if m.tool_call_id:
            turn["tool_call_id"] = m.tool_call_id
        turns.append(turn)
    return turns
