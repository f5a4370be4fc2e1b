"""The OpenAI dialect: Chat Completions, Completions, Embeddings, Models."""
