"""llama-server's extras: /tokenize, /detokenize, /apply-template."""
