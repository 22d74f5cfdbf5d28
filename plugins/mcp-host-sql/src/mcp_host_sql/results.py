"""Collecting a result within ``max_rows`` and ``max_result_bytes``.

Rows are converted to JSON values one at a time as they are fetched, and their size (the
bytes of their JSON text, each value counting at least :data:`MIN_VALUE_BYTES`) is counted.
Rows are kept whole while they fit; the first row that does not fit ends the result
(``truncated``, with the reason). When the very first row alone is
larger than the cap, its largest values are cut so that one row still comes back: a cut value
ends with the marker ``...[cut: N bytes in all]`` (N is the size of the whole value: UTF-8 bytes
of text, raw bytes of binary data; the kept part of binary data stays valid base64).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .values import to_json

MARKER_HEAD = "...[cut: "
MARKER_TAIL = " bytes in all]"
MARKER = MARKER_HEAD + "{total}" + MARKER_TAIL


@dataclass(frozen=True, slots=True)
class Cut:
    """A value the database already shortened (PostgreSQL cuts large values server-side)."""

    head: str | bytes
    total: int
    """Bytes of the whole value."""
    marked: bool = False
    """Whether ``head`` is already the final text: cut, in base64 if binary, and marked."""


MIN_VALUE_BYTES = 16
"""What each value counts at least: a tiny value's JSON is a few bytes, but holding it costs
the host tens of bytes, so a result of many tiny values must stop sooner to stay small."""


class Expired(Exception):
    """The statement timeout passed while rows were being fetched or converted."""


_CONTROL = [chr(c) for c in range(32)]
_SHORT_ESCAPES = frozenset("\b\t\n\f\r")


def json_size(value: Any) -> int:
    """Bytes of ``value``'s JSON text (UTF-8), which is what a client receives."""
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        return len(repr(value))
    if isinstance(value, str):
        return _text_size(value)
    return len(json.dumps(value, ensure_ascii=False).encode())


def _text_size(text: str) -> int:
    # Counted without building the JSON text: a large value is counted in place.
    size = (len(text) if text.isascii() else len(text.encode())) + 2
    size += text.count('"') + text.count("\\")
    for control in _CONTROL:
        found = text.count(control)
        if found:
            size += found * (1 if control in _SHORT_ESCAPES else 5)
    return size


def cut_text(text: str, total: int, room: int) -> str:
    """``text`` shortened so that, with the marker, its JSON takes at most ``room`` bytes."""
    marker = MARKER.format(total=total)
    keep = room - json_size(marker)
    head = text[: max(keep, 0)]
    while head and json_size(head) > keep:
        # Every character takes at least one byte, so dropping the excess converges.
        head = head[: max(len(head) - (json_size(head) - keep), 0)]
    return head + marker


def cut_binary(data: bytes, total: int, room: int) -> str:
    """Base64 of the start of ``data`` plus the marker, in at most ``room`` bytes of JSON."""
    marker = MARKER.format(total=total)
    keep = max(room - json_size(marker), 0) // 4 * 3
    return base64.b64encode(data[:keep]).decode("ascii") + marker


def _cut(raw: Any, converted: Any, room: int) -> str:
    if isinstance(raw, Cut) and raw.marked and isinstance(raw.head, str):
        if json_size(raw.head) <= room:
            return raw.head
        return cut_text(raw.head[: raw.head.rfind(MARKER_HEAD)], raw.total, room)
    if isinstance(raw, Cut):
        if isinstance(raw.head, bytes):
            return cut_binary(raw.head, raw.total, room)
        return cut_text(raw.head, raw.total, room)
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        return cut_binary(data, len(data), room)
    text = converted if isinstance(converted, str) else json.dumps(converted, ensure_ascii=False)
    return cut_text(text, len(text.encode()), room)


class Collector:
    """Rows of one result, kept within ``max_rows``, ``max_bytes`` and a deadline."""

    def __init__(self, max_rows: int, max_bytes: int, deadline: float | None = None) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.rows: list[list[Any]] = []
        self.used = 2  # the brackets of the list of rows
        self.reason: str | None = None
        self.largest_row = 0

    @property
    def done(self) -> bool:
        return self.reason is not None

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Expired

    def add(self, row: Sequence[Any], *, over: bool = False) -> bool:
        """Keep ``row`` if it fits; ``False`` once no more rows should be fetched.

        ``over`` says the database already found that the row does not fit (and cut its
        large values so that it could be sent at all).
        """
        self.check_time()
        if len(self.rows) >= self.max_rows:
            self.reason = f"more rows matched than max_rows ({self.max_rows}) allows"
            return False
        # A value the database cut is a placeholder here; it is always cut below.
        converted = ["" if isinstance(raw, Cut) else to_json(raw) for raw in row]
        sizes = [max(json_size(v), MIN_VALUE_BYTES) for v in converted]
        size = sum(sizes) + len(sizes) + 1  # separators and brackets
        self.largest_row = max(self.largest_row, size)
        precut = any(isinstance(raw, Cut) for raw in row)
        if not over and not precut and self.used + size <= self.max_bytes:
            self.rows.append(converted)
            self.used += size + 1
            return True
        if self.rows:
            self.reason = (
                f"the result reached max_result_bytes ({self.max_bytes} bytes) after "
                f"{len(self.rows)} row(s); later rows were not fetched"
            )
            return False
        # The first row alone is too large: share the room among its long values.
        room = self.max_bytes - self.used - len(sizes) - 1
        long = [i for i, raw in enumerate(row) if _cuttable(raw, converted[i])]
        fixed = sum(s for i, s in enumerate(sizes) if i not in long)
        share = max((room - fixed) // max(len(long), 1), 0)
        for i in long:
            if isinstance(row[i], Cut) or sizes[i] > share:
                converted[i] = _cut(row[i], converted[i], share)
        self.rows.append(converted)
        self.used += sum(json_size(v) for v in converted) + len(converted) + 2
        self.reason = (
            f"the first row is larger than max_result_bytes ({self.max_bytes} bytes): its "
            "largest values were cut, each marked with ...[cut: N bytes in all]; select fewer "
            "columns or a part of the values (e.g. substr) to see more"
        )
        return False

    def batch(self, limit: int = 256) -> int:
        """How many rows to ask for next: few while rows are large, so that one batch stays
        within the room left."""
        rows_left = self.max_rows + 1 - len(self.rows)
        if self.largest_row == 0:
            return max(min(rows_left, 1), 1)
        room = max(self.max_bytes - self.used, 0)
        return max(min(rows_left, limit, room // self.largest_row), 1)


def _cuttable(raw: Any, converted: Any) -> bool:
    return isinstance(raw, Cut | bytes | bytearray | memoryview) or isinstance(
        converted, str | list | dict
    )
