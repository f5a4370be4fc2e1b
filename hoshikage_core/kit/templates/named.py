"""Named chat templates (ChatML, Llama 3, ...) for models without one of their own
and for the ``chat_format`` option. Plain strings, so config validation can check
names without importing jinja2."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHATML", "NAMED_TEMPLATES", "NamedTemplate"]


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
