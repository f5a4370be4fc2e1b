"""Model lifecycle: states, residency (LRU, memory budget), slots, queues, idle unload."""

from .manager import ModelManager
from .progress import LoadEvent, LoadListener
from .state import ManagedModel, ModelInfo, ModelState, ReplicaInfo

__all__ = ["LoadEvent", "LoadListener", "ManagedModel", "ModelInfo", "ModelManager",
           "ModelState", "ReplicaInfo"]
