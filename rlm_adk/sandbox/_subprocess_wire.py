"""The wire format between `SubprocessSandbox` and its child: frames and a value codec.

Each frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. Never pickle:
neither side ever unpickles the other's data. Values are JSON, with tagged objects for what JSON
lacks: `{"$": "tuple" | "dict" | "bytes" | "set" | "frozenset" | "ref", "v": ...}`. A `ref` stands
for a host object: the host keeps the object and sends an id, the object's declared record
attributes, and the names of its lazy attributes and (async) methods.

This module is standard library only: the child loads it by path, without importing `rlm_adk`.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024
"""The largest frame either side accepts."""
_MAX_DEPTH = 200


def pack(message: dict[str, Any]) -> bytes:
    """One frame: length prefix and compact UTF-8 JSON (lone surrogates survive the trip)."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )
    if len(data) > MAX_FRAME_BYTES:
        raise ValueError(f"message of {len(data):,} bytes exceeds the {MAX_FRAME_BYTES:,} limit")
    return HEADER.pack(len(data)) + data


def unpack(data: bytes) -> dict[str, Any]:
    """The message in one frame's payload."""
    message = json.loads(data.decode("utf-8", "surrogatepass"))
    if not isinstance(message, dict):
        raise ValueError("a frame must hold a JSON object")
    return message


def encode(value: Any, on_object: Callable[[Any], dict[str, Any]], _depth: int = 0) -> Any:
    """`value` as JSON-ready data; `on_object` encodes anything the codec does not know."""
    if _depth > _MAX_DEPTH:
        raise ValueError("value is nested too deeply to cross the sandbox boundary")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    depth = _depth + 1
    if isinstance(value, list):
        return [encode(v, on_object, depth) for v in value]
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(v, on_object, depth) for v in value]}
    if isinstance(value, dict):
        if "$" not in value and all(type(k) is str for k in value):
            return {k: encode(v, on_object, depth) for k, v in value.items()}
        items = [
            [encode(k, on_object, depth), encode(v, on_object, depth)] for k, v in value.items()
        ]
        return {"$": "dict", "v": items}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset):
        tag = "set" if isinstance(value, set) else "frozenset"
        return {"$": tag, "v": [encode(v, on_object, depth) for v in value]}
    return on_object(value)


def decode(data: Any, on_ref: Callable[[dict[str, Any]], Any]) -> Any:
    """The value `encode` produced; `on_ref` turns a `ref` back into an object."""
    if isinstance(data, list):
        return [decode(v, on_ref) for v in data]
    if not isinstance(data, dict):
        return data
    tag = data.get("$")
    if tag is None:
        return {k: decode(v, on_ref) for k, v in data.items()}
    if tag == "tuple":
        return tuple(decode(v, on_ref) for v in data["v"])
    if tag == "dict":
        return {decode(k, on_ref): decode(v, on_ref) for k, v in data["v"]}
    if tag == "bytes":
        return base64.b64decode(data["v"])
    if tag == "set":
        return {decode(v, on_ref) for v in data["v"]}
    if tag == "frozenset":
        return frozenset(decode(v, on_ref) for v in data["v"])
    if tag == "ref":
        return on_ref(data)
    raise ValueError(f"unknown wire tag {tag!r}")


# Exceptions the host may raise into the sandbox, by name; anything else arrives as RuntimeError.
SAFE_EXCEPTIONS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        TimeoutError,
        FileNotFoundError,
        PermissionError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        NameError,
        AttributeError,
        RuntimeError,
    )
}
