"""llama-server's extras: /tokenize, /detokenize."""
