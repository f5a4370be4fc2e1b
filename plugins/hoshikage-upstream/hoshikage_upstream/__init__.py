"""Hoshikage backend ``upstream``: a model served by other OpenAI-compatible servers.

Requests go to the least busy healthy server of ``base_urls``, fail over on
connection errors, and stream through chunk by chunk.
"""

__version__ = "0.1.0"
