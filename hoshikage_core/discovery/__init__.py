"""Models found in folders instead of written in the config (``[discovery]``).

- :mod:`.naming`: the rule that turns a file's name into a model's name;
- :mod:`.scan`: GGUF files in folders, the Hugging Face hub cache, Ollama's store;
- :mod:`.merge`: the found files as models next to the configured ones, with
  every name two files share, or a configured model hides, reported.
"""

from .merge import discover
from .origin import DiscoveryReport, ModelOrigin, NotServed

__all__ = ["DiscoveryReport", "ModelOrigin", "NotServed", "discover"]
