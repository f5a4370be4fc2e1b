"""Chat templates in several families' documented tool-call formats, written for these
tests (small, and only what a call needs): what real templates of each family render."""

from __future__ import annotations

HEAD = "{% for m in messages %}"
TAIL = "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"


def _chatml(calls: str, tools: str = "") -> str:
    return (tools + HEAD + "<|im_start|>{{ m.role }}\n{% if m.tool_calls %}" + calls +
            "{% else %}{{ m.content }}{% endif %}<|im_end|>\n" + TAIL)


TOOLS = "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"

FAMILIES = {
    # Hermes / Qwen 2.5: one JSON object a call, in <tool_call> tags
    "hermes": _chatml("{% for c in m.tool_calls %}<tool_call>\n{{ {'name': c.function.name, "
                      "'arguments': c.function.arguments} | tojson }}\n</tool_call>"
                      "{% if not loop.last %}\n{% endif %}{% endfor %}", TOOLS),
    # Qwen3-Coder: the arguments as XML parameters
    "qwen3-coder": _chatml(
        "{% for c in m.tool_calls %}<tool_call>\n<function={{ c.function.name }}>\n"
        "{% for k, v in c.function.arguments.items() %}<parameter={{ k }}>\n{{ v }}\n"
        "</parameter>\n{% endfor %}</function>\n</tool_call>{% if not loop.last %}\n"
        "{% endif %}{% endfor %}", TOOLS),
    # Mistral (Devstral, Magistral): the name, then [ARGS] and the JSON arguments
    "mistral": _chatml("{% for c in m.tool_calls %}[TOOL_CALLS]{{ c.function.name }}[ARGS]"
                       "{{ c.function.arguments | tojson }}{% endfor %}", TOOLS),
    # Llama 3.x: one bare JSON object with "parameters"
    "llama3": _chatml("{% set c = m.tool_calls[0] %}{{ {'name': c.function.name, "
                      "'parameters': c.function.arguments} | tojson }}", TOOLS),
    # Kimi K2: a section, and a counter in every call
    "kimi": _chatml("<|tool_calls_section_begin|>{% for c in m.tool_calls %}<|tool_call_begin|>"
                    "functions.{{ c.function.name }}:{{ loop.index0 }}"
                    "<|tool_call_argument_begin|>{{ c.function.arguments | tojson }}"
                    "<|tool_call_end|>{% endfor %}<|tool_calls_section_end|>", TOOLS),
    # Granite / Apriel: the calls as one JSON array
    "array": _chatml("<tool_calls>{{ m.tool_calls | map(attribute='function') | list | tojson }}"
                     "</tool_calls>", TOOLS),
    # GLM 4.x: keys and values in tags
    "glm": _chatml("{% for c in m.tool_calls %}<tool_call>{{ c.function.name }}\n"
                   "{% for k, v in c.function.arguments.items() %}<arg_key>{{ k }}</arg_key>\n"
                   "<arg_value>{{ v }}</arg_value>\n{% endfor %}</tool_call>"
                   "{% if not loop.last %}\n{% endif %}{% endfor %}", TOOLS),
}
