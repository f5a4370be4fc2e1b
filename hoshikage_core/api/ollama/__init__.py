"""Ollama's API (``/api/*``): chat, generate, embeddings and model listings, as a thin
translation over the chat service, so Ollama clients (its SDKs, Open WebUI, Continue)
work against Hoshikage unchanged. See docs/ollama.md."""
