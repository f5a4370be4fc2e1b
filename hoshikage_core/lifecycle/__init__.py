"""Model lifecycle: states, residency (LRU, memory budget), slots, queues, idle unload."""

from .manager import ModelManager
from .state import ManagedModel, ModelInfo, ModelState

__all__ = ["ManagedModel", "ModelInfo", "ModelManager", "ModelState"]
