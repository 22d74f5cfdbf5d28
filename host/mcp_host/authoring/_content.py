"""Content helpers a handler may return (alone or in a list) instead of plain values.

Each knows how to turn itself into an MCP content block.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Audio",
    "Content",
    "EmbeddedResource",
    "Image",
    "ResourceContents",
    "ResourceLink",
    "Text",
]


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    annotations: Mapping[str, Any] | None = None

    def to_content(self) -> dict[str, Any]:
        return _with_annotations({"type": "text", "text": self.text}, self.annotations)


@dataclass(frozen=True, slots=True)
class Image:
    """An image: raw bytes (encoded for you) or a base64 string, with its MIME type."""

    data: bytes | str
    mime_type: str = "image/png"
    annotations: Mapping[str, Any] | None = None

    def to_content(self) -> dict[str, Any]:
        block = {"type": "image", "data": _b64(self.data), "mimeType": self.mime_type}
        return _with_annotations(block, self.annotations)


@dataclass(frozen=True, slots=True)
class Audio:
    """Audio: raw bytes (encoded for you) or a base64 string, with its MIME type."""

    data: bytes | str
    mime_type: str = "audio/wav"
    annotations: Mapping[str, Any] | None = None

    def to_content(self) -> dict[str, Any]:
        block = {"type": "audio", "data": _b64(self.data), "mimeType": self.mime_type}
        return _with_annotations(block, self.annotations)


@dataclass(frozen=True, slots=True)
class ResourceLink:
    """A link to a resource the client may read later."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Mapping[str, Any] | None = None

    def to_content(self) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "resource_link", "uri": self.uri, "name": self.name}
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("mimeType", self.mime_type),
            ("size", self.size),
        ):
            if value is not None:
                block[key] = value
        return _with_annotations(block, self.annotations)


@dataclass(frozen=True, slots=True)
class EmbeddedResource:
    """A resource's contents embedded in the result: ``text`` or ``blob`` (bytes)."""

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None
    annotations: Mapping[str, Any] | None = None

    def to_content(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"uri": self.uri}
        if self.mime_type is not None:
            resource["mimeType"] = self.mime_type
        if self.blob is not None:
            resource["blob"] = _b64(self.blob)
        else:
            resource["text"] = self.text or ""
        return _with_annotations({"type": "resource", "resource": resource}, self.annotations)


Content = Text | Image | Audio | ResourceLink | EmbeddedResource
"""Any content helper."""


def _with_annotations(
    block: dict[str, Any], annotations: Mapping[str, Any] | None
) -> dict[str, Any]:
    if annotations:
        block["annotations"] = dict(annotations)
    return block


@dataclass(frozen=True, slots=True)
class ResourceContents:
    """One item of a ``resources/read`` result: text or binary contents of a URI."""

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None
    meta: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri}
        if self.mime_type is not None:
            out["mimeType"] = self.mime_type
        if self.blob is not None:
            out["blob"] = base64.b64encode(self.blob).decode("ascii")
        else:
            out["text"] = self.text if self.text is not None else ""
        if self.meta:
            out["_meta"] = dict(self.meta)
        return out
