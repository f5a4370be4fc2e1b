"""GGML/GGUF models through ctransformers (llama, gpt2, gptj, gpt_neox, falcon, mpt,
starcoder, …). Optional: ``pip install 'hoshikage[ctransformers]'``.

ctransformers has no chat templates: chat goes through a template chosen per
model in the config (ChatML by default). Importing this package does not
import ctransformers.
"""
