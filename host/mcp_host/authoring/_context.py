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

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, get_args

from typing_extensions import TypeVar

from ._content import ResourceContents
from ._names import ServedNames
from ._principal import Principal

__all__ = [
    "LOG_LEVELS",
    "Context",
    "ElicitResult",
    "Elicitation",
    "ElicitationUrl",
    "ListRoots",
    "LogLevel",
    "Question",
    "RequestScope",
    "Root",
    "Sampling",
    "SamplingResult",
]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
"""The MCP (syslog) log levels, least severe first."""
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)


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
    def caller(self) -> Principal | None: ...

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

    def next_key(self) -> str:
        """A key for a question asked without one: ``q0``, ``q1``, ... in asking order."""
        ...

    async def ask(self, questions: Mapping[str, Question]) -> Mapping[str, Mapping[str, Any]]:
        """Ask the client every question at once; the raw results by key.

        Legacy era: requests to the client, concurrently. Modern era: the answers the client
        sent with this retry, or an input-required result asking for the missing ones.
        """
        ...

    async def read_resource(self, uri: str) -> Sequence[ResourceContents]: ...


StateT = TypeVar("StateT", default=Any)
"""The type of what the plugin's lifespan yields (``Context.state``)."""
ConfigT = TypeVar("ConfigT", default=Any)
"""The type of the plugin's validated configuration (``Context.config``)."""


class Context(Generic[StateT, ConfigT]):
    """Passed to a handler parameter annotated ``Context``; one per request.

    Parametrise it with your lifespan state's and configuration's types so they reach your
    handlers typed: ``Context[MyState, MyConfig]`` (a module-level alias such as
    ``MyContext = Context[MyState, MyConfig]`` keeps signatures short). A bare ``Context``
    is ``Context[Any, Any]``. The host does not check the types at run time.
    """

    __slots__ = ("_failures", "_names", "_scope", "config", "plugin", "state")

    def __init__(
        self,
        *,
        plugin: str,
        state: StateT,
        config: ConfigT,
        scope: RequestScope,
        names: ServedNames | None = None,
    ) -> None:
        self.plugin = plugin
        """The name of the plugin the handler belongs to."""
        self.state = state
        """What the plugin's lifespan yielded (``None`` without a lifespan)."""
        self.config = config
        """The plugin's validated configuration (``None`` without a config model)."""
        self._scope = scope
        self._names = names if names is not None else ServedNames()
        self._failures: list[tuple[str, BaseException]] | None = None

    # -- the plugin's own names, as clients see them

    def served_name(self, name: str) -> str | None:
        """The name under which clients see this plugin's tool or prompt ``name``: the same,
        or ``db_query`` for ``query`` when the operator gave the plugin ``prefix = "db"``.
        ``None`` when the plugin serves no tool or prompt by that name right now (not
        registered, its ``when=`` condition false, or left out by ``tools.allow``/``deny``),
        so text for a model can leave out what the model cannot call."""
        return self._names.tool(name) or self._names.prompt(name)

    def served_uri(self, uri: str) -> str:
        """The URI under which clients read this plugin's resource ``uri`` (with a prefix,
        ``sql://demo/schema`` is served as ``db+sql://demo/schema``)."""
        return self._names.uri(uri)

    # -- the request

    @property
    def request_id(self) -> str | int | None:
        return self._scope.request_id

    @property
    def principal(self) -> Principal | None:
        """Who is calling: the authenticated ``Principal`` (subject, issuer or API key name,
        scopes, claims) over HTTP with authentication configured; ``None`` over stdio and
        when the host does not authenticate."""
        return self._scope.caller

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

    async def ask(self, questions: Mapping[str, Question]) -> dict[str, Any]:
        """Ask the client several things in one round, each under a key you choose::

            answers = await ctx.ask({
                "user_name": Elicitation("What is your name?", Name),
                "greeting": Sampling("Write a greeting", max_tokens=50),
                "roots": ListRoots(),
            })

        Returns each answer by key, parsed as ``elicit``/``sample``/``list_roots`` return it.
        On a legacy connection the requests go to the client together; on the modern era they
        form one input-required result, and answers from earlier rounds are kept.
        """
        raw = await self._scope.ask(dict(questions))
        return {key: question.parse(raw[key]) for key, question in questions.items()}

    async def _one(self, question: Question, key: str | None) -> Any:
        name = key if key is not None else self._scope.next_key()
        return (await self.ask({name: question}))[name]

    async def elicit(
        self, message: str, schema: type[Any] | Mapping[str, Any], *, key: str | None = None
    ) -> ElicitResult:
        """Ask the user to fill in a form (elicitation, form mode).

        ``schema`` is a pydantic model class or a JSON schema of a flat object with primitive
        properties. On ``accept`` the content is validated against it. ``key`` names the
        question in a modern-era input-required result (default ``q0``, ``q1``, ...).
        """
        result: ElicitResult = await self._one(Elicitation(message, schema), key)
        return result

    async def elicit_url(
        self,
        message: str,
        url: str,
        *,
        elicitation_id: str | None = None,
        key: str | None = None,
    ) -> ElicitResult:
        """Send the user to a URL (elicitation, URL mode), e.g. to sign in somewhere."""
        result: ElicitResult = await self._one(ElicitationUrl(message, url, elicitation_id), key)
        return result

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
        key: str | None = None,
    ) -> SamplingResult:
        """Ask the client's model for a completion (sampling).

        ``messages`` is a user text or a list of MCP ``SamplingMessage`` dicts.
        """
        question = Sampling(
            messages,
            max_tokens=max_tokens,
            system_prompt=system_prompt,
            temperature=temperature,
            stop_sequences=stop_sequences,
            model_preferences=model_preferences,
            include_context=include_context,
            metadata=metadata,
        )
        result: SamplingResult = await self._one(question, key)
        return result

    async def list_roots(self, *, key: str | None = None) -> list[Root]:
        """The client's roots (directories or files it lets the server work on)."""
        result: list[Root] = await self._one(ListRoots(), key)
        return result


# ------------------------------------------------------------------------------- questions


class Question(abc.ABC):
    """Something a handler asks the client: a method, its params, and how to read the answer."""

    method: str = ""
    capability: str = ""
    """The client capability the question needs (``elicitation``, ``sampling``, ``roots``),
    or ``elicitation.url`` for URL-mode elicitation."""

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The request's params."""

    @abc.abstractmethod
    def accepts(self, answer: object) -> bool:
        """Whether ``answer`` has the shape of this method's result (checked before use)."""

    @abc.abstractmethod
    def parse(self, answer: Mapping[str, Any]) -> Any:
        """The answer as the handler receives it."""


_ACTIONS = ("accept", "decline", "cancel")


class Elicitation(Question):
    """A form for the user (elicitation, form mode); answered with an ``ElicitResult``."""

    method = "elicitation/create"
    capability = "elicitation"

    def __init__(self, message: str, schema: type[Any] | Mapping[str, Any]) -> None:
        self.message = message
        self.schema = schema
        self._requested = _form_schema(schema)

    def params(self) -> dict[str, Any]:
        return {"mode": "form", "message": self.message, "requestedSchema": self._requested}

    def accepts(self, answer: object) -> bool:
        if not isinstance(answer, Mapping) or answer.get("action") not in _ACTIONS:
            return False
        content = answer.get("content")
        return content is None or isinstance(content, Mapping)

    def parse(self, answer: Mapping[str, Any]) -> ElicitResult:
        return _elicit_result(answer, self.schema)


class ElicitationUrl(Question):
    """Send the user to a URL (elicitation, URL mode); answered with an ``ElicitResult``."""

    method = "elicitation/create"
    capability = "elicitation.url"

    def __init__(self, message: str, url: str, elicitation_id: str | None = None) -> None:
        import secrets

        self.message = message
        self.url = url
        self.elicitation_id = elicitation_id or secrets.token_urlsafe(16)

    def params(self) -> dict[str, Any]:
        return {
            "mode": "url",
            "message": self.message,
            "url": self.url,
            "elicitationId": self.elicitation_id,
        }

    def accepts(self, answer: object) -> bool:
        return isinstance(answer, Mapping) and answer.get("action") in _ACTIONS

    def parse(self, answer: Mapping[str, Any]) -> ElicitResult:
        return ElicitResult(action=answer.get("action", "cancel"))


class Sampling(Question):
    """A completion from the client's model; answered with a ``SamplingResult``."""

    method = "sampling/createMessage"
    capability = "sampling"

    def __init__(
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
    ) -> None:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": {"type": "text", "text": messages}}]
        self._params: dict[str, Any] = {"messages": list(messages), "maxTokens": max_tokens}
        optional = {
            "systemPrompt": system_prompt,
            "temperature": temperature,
            "stopSequences": list(stop_sequences) if stop_sequences is not None else None,
            "modelPreferences": model_preferences,
            "includeContext": include_context,
            "metadata": metadata,
        }
        self._params.update({k: v for k, v in optional.items() if v is not None})

    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def accepts(self, answer: object) -> bool:
        return isinstance(answer, Mapping) and isinstance(answer.get("content"), Mapping | list)

    def parse(self, answer: Mapping[str, Any]) -> SamplingResult:
        return SamplingResult(
            role=str(answer.get("role", "assistant")),
            content=answer.get("content", []),
            model=str(answer.get("model", "")),
            stop_reason=answer.get("stopReason"),
        )


class ListRoots(Question):
    """The client's roots; answered with a list of ``Root``."""

    method = "roots/list"
    capability = "roots"

    def params(self) -> dict[str, Any]:
        return {}

    def accepts(self, answer: object) -> bool:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("roots"), list):
            return False
        return all(
            isinstance(r, Mapping) and isinstance(r.get("uri"), str) for r in answer["roots"]
        )

    def parse(self, answer: Mapping[str, Any]) -> list[Root]:
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

        from mcp_host.errors import ToolError

        try:
            validated = TypeAdapter(schema).validate_python(content)
        except ValidationError as exc:
            raise ToolError(
                f"The answer to the form does not match its schema: {exc.errors()}"
            ) from exc
        dumped = validated.model_dump() if hasattr(validated, "model_dump") else validated
        return ElicitResult(action="accept", content=dumped)
    return ElicitResult(action=action, content=content)


def record_failure(ctx: Context[Any, Any], what: str, exc: BaseException) -> None:
    """Note that a handler called with ``ctx`` failed (``what``: ``"raised ValueError"``) and
    was answered with an error result: the protocol layer, which knows the plugin and the
    served name, logs it once (``take_failures``)."""
    if ctx._failures is None:
        ctx._failures = []
    ctx._failures.append((what, exc))


def take_failures(ctx: Context[Any, Any]) -> list[tuple[str, BaseException]]:
    """The failures ``record_failure`` noted for ``ctx`` since the last call."""
    failures, ctx._failures = ctx._failures or [], None
    return failures
