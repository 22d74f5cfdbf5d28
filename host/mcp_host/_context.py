"""``Context``: what a handler can reach during one request.

A handler asks for it by annotating a parameter with ``Context``. The protocol layer gives
each request a ``RequestScope`` (progress, logging, asking the client); ``Context`` puts the
plugin's own state and configuration beside it and offers one API that works on both
protocol eras: on a legacy connection ``elicit``/``sample``/``list_roots`` send a request to
the client and await the answer; on the modern (2026-07-28) era the host answers the call
with an input-required result and re-runs the handler when the client retries with the
answers, so a handler must do nothing irreversible before its last question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._specs import ResourceContents

__all__ = [
    "Context",
    "ElicitResult",
    "LogLevel",
    "RequestScope",
    "Root",
    "SamplingResult",
]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


@dataclass(frozen=True, slots=True)
class ElicitResult:
    """The user's answer: ``action`` is ``accept``, ``decline`` or ``cancel``; ``content`` holds
    the submitted form values on ``accept`` (empty for URL mode)."""

    action: Literal["accept", "decline", "cancel"]
    content: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SamplingResult:
    """What the client's model answered to ``ctx.sample``."""

    role: str
    content: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    model: str
    stop_reason: str | None = None

    @property
    def text(self) -> str:
        """The text of the answer (text blocks joined), or ``""`` when it has none."""
        blocks = [self.content] if isinstance(self.content, Mapping) else list(self.content)
        return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")


@dataclass(frozen=True, slots=True)
class Root:
    uri: str
    name: str | None = None


class RequestScope(Protocol):
    """The protocol layer's side of one request. Implemented by the protocol engine."""

    @property
    def request_id(self) -> str | int | None: ...

    @property
    def protocol_version(self) -> str: ...

    @property
    def client_info(self) -> Mapping[str, Any] | None: ...

    @property
    def client_capabilities(self) -> Mapping[str, Any]: ...

    @property
    def progress_token(self) -> str | int | None: ...

    async def report_progress(
        self, progress: float, total: float | None, message: str | None
    ) -> None: ...

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None: ...

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Ask the client (``elicitation/create``, ``sampling/createMessage``, ``roots/list``).

        Raises ``MissingCapabilityError`` when the client did not declare the capability. On the
        modern era this may unwind the handler to return an input-required result.
        """
        ...

    async def read_resource(self, uri: str) -> Sequence[ResourceContents]: ...


class Context:
    """Passed to a handler parameter annotated ``Context``; one per request."""

    __slots__ = ("_scope", "config", "plugin", "state")

    def __init__(self, *, plugin: str, state: Any, config: Any, scope: RequestScope) -> None:
        self.plugin = plugin
        """The name of the plugin the handler belongs to."""
        self.state = state
        """What the plugin's lifespan yielded (``None`` without a lifespan)."""
        self.config = config
        """The plugin's validated configuration (``None`` without a config model)."""
        self._scope = scope

    # -- the request

    @property
    def request_id(self) -> str | int | None:
        return self._scope.request_id

    @property
    def protocol_version(self) -> str:
        """The revision the client speaks, e.g. ``"2026-07-28"`` or ``"2025-11-25"``."""
        return self._scope.protocol_version

    @property
    def client_info(self) -> Mapping[str, Any] | None:
        return self._scope.client_info

    @property
    def client_capabilities(self) -> Mapping[str, Any]:
        return self._scope.client_capabilities

    @property
    def progress_token(self) -> str | int | None:
        """The token the client gave to follow this request's progress, if any."""
        return self._scope.progress_token

    # -- progress and logging

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Send a progress notification if the client asked for progress; otherwise do nothing."""
        await self._scope.report_progress(progress, total, message)

    async def log(self, level: LogLevel, data: Any, *, logger: str | None = None) -> None:
        """Send a log message to the client, if its log level lets this one through."""
        await self._scope.log(level, data, logger)

    async def debug(self, data: Any, *, logger: str | None = None) -> None:
        await self._scope.log("debug", data, logger)

    async def info(self, data: Any, *, logger: str | None = None) -> None:
        await self._scope.log("info", data, logger)

    async def warning(self, data: Any, *, logger: str | None = None) -> None:
        await self._scope.log("warning", data, logger)

    async def error(self, data: Any, *, logger: str | None = None) -> None:
        await self._scope.log("error", data, logger)

    # -- resources

    async def read_resource(self, uri: str) -> Sequence[ResourceContents]:
        """Read any resource the host serves, by its final (possibly prefixed) URI."""
        return await self._scope.read_resource(uri)

    # -- asking the user

    async def elicit(self, message: str, schema: type[Any] | Mapping[str, Any]) -> ElicitResult:
        """Ask the user to fill in a form (elicitation, form mode).

        ``schema`` is a pydantic model class or a JSON schema of a flat object with primitive
        properties. On ``accept`` the content is validated against it.
        """
        requested = _form_schema(schema)
        answer = await self._scope.ask(
            "elicitation/create",
            {"mode": "form", "message": message, "requestedSchema": requested},
        )
        return _elicit_result(answer, schema)

    async def elicit_url(
        self, message: str, url: str, *, elicitation_id: str | None = None
    ) -> ElicitResult:
        """Send the user to a URL (elicitation, URL mode), e.g. to sign in somewhere."""
        import secrets

        answer = await self._scope.ask(
            "elicitation/create",
            {
                "mode": "url",
                "message": message,
                "url": url,
                "elicitationId": elicitation_id or secrets.token_urlsafe(16),
            },
        )
        return ElicitResult(action=answer.get("action", "cancel"))

    async def sample(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        max_tokens: int,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: Sequence[str] | None = None,
        model_preferences: Mapping[str, Any] | None = None,
        include_context: Literal["none", "thisServer", "allServers"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> SamplingResult:
        """Ask the client's model for a completion (sampling).

        ``messages`` is a user text or a list of MCP ``SamplingMessage`` dicts.
        """
        if isinstance(messages, str):
            messages = [{"role": "user", "content": {"type": "text", "text": messages}}]
        params: dict[str, Any] = {"messages": list(messages), "maxTokens": max_tokens}
        optional = {
            "systemPrompt": system_prompt,
            "temperature": temperature,
            "stopSequences": list(stop_sequences) if stop_sequences is not None else None,
            "modelPreferences": model_preferences,
            "includeContext": include_context,
            "metadata": metadata,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        answer = await self._scope.ask("sampling/createMessage", params)
        return SamplingResult(
            role=str(answer.get("role", "assistant")),
            content=answer.get("content", []),
            model=str(answer.get("model", "")),
            stop_reason=answer.get("stopReason"),
        )

    async def list_roots(self) -> list[Root]:
        """The client's roots (directories or files it lets the server work on)."""
        answer = await self._scope.ask("roots/list", {})
        return [Root(uri=r["uri"], name=r.get("name")) for r in answer.get("roots", [])]


def _form_schema(schema: type[Any] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(schema, Mapping):
        return dict(schema)
    from pydantic import TypeAdapter

    generated = TypeAdapter(schema).json_schema()
    generated.pop("title", None)
    return generated


def _elicit_result(
    answer: Mapping[str, Any], schema: type[Any] | Mapping[str, Any]
) -> ElicitResult:
    action = answer.get("action", "cancel")
    content = answer.get("content")
    if action == "accept" and content is not None and not isinstance(schema, Mapping):
        from pydantic import TypeAdapter, ValidationError

        from .errors import ToolError

        try:
            validated = TypeAdapter(schema).validate_python(content)
        except ValidationError as exc:
            raise ToolError(
                f"The answer to the form does not match its schema: {exc.errors()}"
            ) from exc
        dumped = validated.model_dump() if hasattr(validated, "model_dump") else validated
        return ElicitResult(action="accept", content=dumped)
    return ElicitResult(action=action, content=content)
