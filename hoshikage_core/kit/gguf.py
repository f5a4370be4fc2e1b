"""Read a GGUF file's header (metadata and tensor table) without loading it.

Pure Python: backends use it to estimate a model's memory before loading and
to refuse a truncated or corrupt file before a C library crashes on it.
Large arrays (the tokenizer's vocabulary) are skipped; only their length is kept.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = ["GGUFError", "GGUFHeader", "is_gguf", "read_gguf_header"]

_SCALARS = {  # GGUF value type -> struct format
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
# ggml tensor types: elements per block, bytes per block
_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
}
_SMALL_ARRAY = 1024  # arrays up to this length are kept, longer ones only counted


class GGUFError(ValueError):
    """The file is not a GGUF file we can read."""


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    tensor_count: int
    data_offset: int
    file_size: int
    array_lengths: dict[str, int] = field(default_factory=dict)
    data_needed: int | None = None  # bytes the tensor table says the data takes, if known

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def tensor_bytes(self) -> int:
        """Bytes of tensor data: what the weights occupy when mapped."""
        return max(0, self.file_size - self.data_offset)


class _Reader:
    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._size = size

    def read(self, n: int) -> bytes:
        data = self._stream.read(n)
        if len(data) != n:
            raise GGUFError("file ends inside the GGUF header (truncated?)")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > self._size:
            raise GGUFError("corrupt GGUF header: string length beyond the file")
        return self.read(length).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        self._stream.seek(n, os.SEEK_CUR)

    def tell(self) -> int:
        return self._stream.tell()

    def value(self, kind: int) -> tuple[Any, int | None]:
        """A value, and for arrays their length."""
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind]), None
        if kind == _STRING:
            return self.string(), None
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if count > self._size:
                raise GGUFError("corrupt GGUF header: array length beyond the file")
            if count > _SMALL_ARRAY:
                self._skip_items(item_kind, count)
                return None, count
            return [self.value(item_kind)[0] for _ in range(count)], count
        raise GGUFError(f"corrupt GGUF header: unknown value type {kind}")

    def _skip_items(self, kind: int, count: int) -> None:
        if kind in _SCALARS:
            self.skip(struct.calcsize(_SCALARS[kind]) * count)
        elif kind == _STRING:
            for _ in range(count):
                self.skip(self.unpack("<Q"))
        else:
            for _ in range(count):
                self.value(kind)


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Parse the header of the GGUF file at ``path``; :class:`GGUFError` if it is not one."""
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        reader = _Reader(stream, size)
        if reader.read(4) != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file (bad magic)")
        version = reader.unpack("<I")
        if version < 2:
            raise GGUFError(f"{path}: GGUF version {version} is too old")
        tensor_count, kv_count = reader.unpack("<Q"), reader.unpack("<Q")
        metadata: dict[str, Any] = {}
        lengths: dict[str, int] = {}
        for _ in range(kv_count):
            key = reader.string()
            value, length = reader.value(reader.unpack("<I"))
            if length is not None:
                lengths[key] = length
            if value is not None:
                metadata[key] = value
        data_needed: int | None = 0
        for _ in range(tensor_count):
            reader.string()  # name
            n_dims = reader.unpack("<I")
            if n_dims > 8:
                raise GGUFError(f"{path}: corrupt tensor table")
            elements = 1
            for _ in range(n_dims):
                elements *= reader.unpack("<Q")
            kind, offset = reader.unpack("<I"), reader.unpack("<Q")
            if kind in _TYPE_SIZES and data_needed is not None:
                per_block, block_bytes = _TYPE_SIZES[kind]
                data_needed = max(data_needed, offset + elements // per_block * block_bytes)
            else:
                data_needed = None  # a type we do not know the size of
        alignment = int(metadata.get("general.alignment", 32)) or 32
        offset = reader.tell()
        data_offset = offset + (-offset % alignment)
    if data_offset > size:
        raise GGUFError(f"{path}: file ends before its tensor data (truncated?)")
    if data_needed is not None and data_offset + data_needed > size:
        raise GGUFError(f"{path} is truncated: its tensors need {data_offset + data_needed} "
                        f"bytes, the file has {size}")
    return GGUFHeader(version, metadata, tensor_count, data_offset, size, lengths, data_needed)


def is_gguf(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as stream:
        return stream.read(4) == b"GGUF"
