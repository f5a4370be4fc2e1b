"""The default backend: GGUF models through llama-cpp-python (CUDA when built with it).

Importing this package does not import llama_cpp; that happens on first load.
"""
