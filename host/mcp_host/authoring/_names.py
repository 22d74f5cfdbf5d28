"""``ServedNames``: the names under which clients see one plugin's contributions.

An operator may give a plugin a ``prefix`` (``query`` is then served as ``db_query``, the
resource ``sql://demo/schema`` as ``db+sql://demo/schema``) or leave some of its tools out
(``tools.allow``/``tools.deny``). Text a plugin writes for a model must name what is really
served, so the catalog gives each plugin one of these:

- in static text (descriptions, parameter descriptions, instructions), ``{tool:NAME}`` and
  ``{prompt:NAME}`` are replaced by the served name when the catalog is built (``render``);
- at run time a handler asks ``ctx.served_name("query")`` / ``ctx.served_uri(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

__all__ = ["REFERENCE", "ServedNames", "prefixed_name", "prefixed_uri", "unprefixed_uri"]

REFERENCE = re.compile(r"\{(tool|prompt):([A-Za-z0-9_.-]{1,128})\}")
"""``{tool:NAME}`` or ``{prompt:NAME}`` in text a plugin publishes."""


def prefixed_name(prefix: str | None, name: str) -> str:
    """The served name of a tool or prompt: ``prefix_name`` (``name`` without a prefix)."""
    return f"{prefix}_{name}" if prefix else name


def prefixed_uri(prefix: str | None, uri: str) -> str:
    """The served URI (or template) of a resource: ``prefix+scheme://...``."""
    return f"{prefix}+{uri}" if prefix else uri


def unprefixed_uri(prefix: str | None, uri: str) -> str:
    """The plugin's own URI for a served one: ``prefixed_uri`` undone (``uri`` unchanged when
    it does not carry the prefix)."""
    if prefix and uri.startswith(f"{prefix}+"):
        return uri[len(prefix) + 1 :]
    return uri


class ServedNames:
    """The served names of one plugin's tools, prompts and resource URIs.

    :param prefix: the operator's ``prefix`` for the plugin, or ``None``.
    :param tools: the plugin's own names of the tools it serves (``None``: not known, every
        name counts as served).
    :param prompts: likewise for prompts.
    """

    __slots__ = ("_prompts", "_tools", "prefix")

    def __init__(
        self,
        prefix: str | None = None,
        *,
        tools: Iterable[str] | None = None,
        prompts: Iterable[str] | None = None,
    ) -> None:
        self.prefix = prefix or None
        self._tools = frozenset(tools) if tools is not None else None
        self._prompts = frozenset(prompts) if prompts is not None else None

    def __repr__(self) -> str:
        return f"ServedNames(prefix={self.prefix!r})"

    def name(self, name: str) -> str:
        """``name`` with the prefix applied, whether or not anything by that name is served."""
        return prefixed_name(self.prefix, name)

    def uri(self, uri: str) -> str:
        """The URI clients use for the plugin's resource ``uri`` (``prefix+scheme://...``)."""
        return prefixed_uri(self.prefix, uri)

    def tool(self, name: str) -> str | None:
        """The served name of the plugin's tool ``name``; ``None`` when it is not served (never
        registered, its ``when=`` condition false, or left out by ``tools.allow``/``deny``)."""
        return self.name(name) if self._tools is None or name in self._tools else None

    def prompt(self, name: str) -> str | None:
        """The served name of the plugin's prompt ``name``, or ``None`` when it is not served."""
        return self.name(name) if self._prompts is None or name in self._prompts else None

    def render(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every ``{tool:NAME}`` and ``{prompt:NAME}`` replaced by the served
        name, and the references to names the plugin does not serve (replaced by the prefixed
        name all the same, so the text still reads; the caller warns about them)."""
        if "{" not in text:
            return text, []
        unknown: list[str] = []

        def replace(match: re.Match[str]) -> str:
            kind: Literal["tool", "prompt"] = match.group(1)  # type: ignore[assignment]
            name = match.group(2)
            served = self.tool(name) if kind == "tool" else self.prompt(name)
            if served is None:
                unknown.append(match.group(0))
                return self.name(name)
            return served

        return REFERENCE.sub(replace, text), unknown
