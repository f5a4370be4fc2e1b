"""Chat templates render as transformers renders them, adapt conversations the
template cannot show, and stay inside a bounded sandbox."""

from __future__ import annotations

import json

import pytest

from hoshikage_core import ChatMessage
from hoshikage_core.kit.templates import ChatTemplate, TemplateError

CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
TOOL_CONVERSATION = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Weather in Paris?"),
    ChatMessage("assistant", "", tool_calls=[CALL]),
    ChatMessage("tool", "18 C, sunny", tool_call_id="call_1"),
    ChatMessage("user", "And tomorrow?"),
]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}

# A Hermes-style template that reads arguments as a mapping, names tool turns, and
# uses what real templates use: namespace, append, loop controls, generation.
HERMES_LIKE = """{%- set ns = namespace(names=[]) -%}
{%- for tool in tools or [] %}{% set _ = ns.names.append(tool.function.name) %}{% endfor -%}
{%- if tools %}<tools>{{ ns.names | join(',') }}</tools>
{% endif -%}
{%- for m in messages -%}
{%- if m.role == 'assistant' and m.tool_calls -%}
<|im_start|>assistant
{% for call in m.tool_calls %}<tool_call>{{ call.function.name }}
{%- for k, v in call.function.arguments.items() %} {{ k }}={{ v }}{% endfor %}</tool_call>
{% endfor %}<|im_end|>
{% elif m.role == 'tool' -%}
<|im_start|>tool {{ m.name }}
{{ m.content }}<|im_end|>
{% else -%}
<|im_start|>{{ m.role }}
{% generation %}{{ m.content }}{% endgeneration %}<|im_end|>
{% endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}
{%- endif -%}"""

# Mistral-style: no system role, no tools, roles must alternate user/assistant.
ALTERNATING = """{{ bos_token }}{% for m in messages %}
{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}
{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant') }}
{%- endif %}
{%- if m.role == 'user' %}[INST] {{ m.content }} [/INST]
{%- elif m.role == 'assistant' %}{{ m.content }}{{ eos_token }}
{%- else %}{{ raise_exception('Only user and assistant roles are supported') }}{% endif %}
{%- endfor %}"""


def test_tools_calls_and_tool_turns_render_as_transformers_passes_them() -> None:
    template = ChatTemplate(HERMES_LIKE)
    prompt = template.render(TOOL_CONVERSATION, [WEATHER])
    assert "<tools>get_weather</tools>" in prompt
    assert "<tool_call>get_weather city=Paris</tool_call>" in prompt  # a mapping
    assert "<|im_start|>tool get_weather\n18 C, sunny" in prompt  # the call's name
    assert prompt.endswith("<|im_start|>assistant\n")
    caps = template.caps
    assert caps.tools and caps.tool_calls and caps.tool_responses and caps.system_role
    assert caps.object_arguments


def test_template_variables_reach_the_template() -> None:
    template = ChatTemplate(HERMES_LIKE)
    prompt = template.render([ChatMessage("user", "hi")], variables={"enable_thinking": False})
    assert prompt.endswith("<think></think>")


def test_a_template_that_shows_little_still_gets_the_whole_conversation() -> None:
    template = ChatTemplate(ALTERNATING, bos_token="<s>", eos_token="</s>")
    caps = template.caps
    assert not (caps.system_role or caps.tools or caps.tool_calls or caps.tool_responses)
    prompt = template.render(TOOL_CONVERSATION, [WEATHER])
    assert prompt.startswith("<s>[INST] Be brief.\n\nWeather in Paris? [/INST]")
    call = json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})
    assert f"<tool_call>{call}</tool_call></s>" in prompt
    # the tool result and the next question are one user turn: roles still alternate
    assert '{"tool_response": {"tool": "get_weather", "tool_call_id": "call_1", ' \
        '"content": "18 C, sunny"}}\n\nAnd tomorrow? [/INST]' in prompt


def test_arguments_as_text_for_templates_that_print_them() -> None:
    template = ChatTemplate("{% for m in messages %}{% for c in m.tool_calls or [] %}"
                            "{{ c.function.name }}({{ c.function.arguments }}){% endfor %}"
                            "{{ m.content }}{% endfor %}")
    assert not template.caps.object_arguments
    assert 'get_weather({"city": "Paris"})' in template.render(TOOL_CONVERSATION[:3])


def test_a_template_that_rejects_the_messages_says_why() -> None:
    template = ChatTemplate("{{ raise_exception('no system messages, please') }}")
    with pytest.raises(TemplateError, match="no system messages, please"):
        template.render([ChatMessage("user", "hi")])


def test_a_template_that_does_not_compile_fails_at_once() -> None:
    with pytest.raises(TemplateError, match="does not compile"):
        ChatTemplate("{% for m in messages %}{{ m.content }")


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ joiner.__init__.__globals__.__builtins__.open('/etc/passwd').read() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ messages.__class__.__base__.__subclasses__() }}",
    "{{ ''.format.__globals__ }}",
    "{{ '{0.__class__}'.format(messages) }}",
    "{% set x = messages.pop.__self__.__class__ %}{{ x.__mro__ }}",
])
def test_template_injection_never_reaches_python_internals(payload: str) -> None:
    template = ChatTemplate(payload)
    try:
        out = template.render([ChatMessage("user", "hi")])
    except TemplateError as exc:
        assert "unsafe" in str(exc) or "undefined" in str(exc).lower(), exc
    else:  # what the sandbox lets through renders as nothing useful
        assert "class" not in out and "root:" not in out and "environ" not in out, out


@pytest.mark.parametrize(("source", "reason"), [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "loops too long"),
    ("{{ 'x' * 100000000 }}", "too large a value"),
    ("{% for i in range(99999) %}{% for j in range(10) %}{{ 'y' * 9999 }}{% endfor %}"
     "{% endfor %}", "loops too long|more than"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursed"),
    ("{{ 10 ** 100000 }}", "too large a power"),
])
def test_runaway_templates_stop_with_a_reason(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        ChatTemplate(source).render([ChatMessage("user", "hi")])


def test_what_the_template_is_given_is_a_copy() -> None:
    messages = [ChatMessage("user", "hi", tool_calls=[CALL])]
    tools = [WEATHER]
    ChatTemplate("{{ tools | tojson }}{% set _ = messages.pop() %}"
                 "{% set _ = tools[0].pop('function') %}").render(messages, tools)
    assert len(messages) == 1 and "function" in WEATHER and tools == [WEATHER]
