"""The authoring API: decorators compile functions into specs, once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import pluggy
import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from mcp_host import (
    Context,
    EmbeddedResource,
    Image,
    Plugin,
    PromptError,
    PromptOutcome,
    Registry,
    ResourceContents,
    ResourceLink,
    Text,
    ToolError,
    ToolOutcome,
    hookspecs,
)
from mcp_host.authoring._context import ElicitResult
from mcp_host.errors import MissingCapabilityError


def registry_of(plugin: Plugin, config: Any = None) -> Registry:
    registry = Registry(plugin.name)
    plugin.mcp_host_register(registry, config)
    return registry


class Scope:
    """A minimal RequestScope for calling compiled handlers directly."""

    request_id = 1
    protocol_version = "2025-11-25"
    client_info = None
    client_capabilities: dict[str, Any] = {}
    progress_token = None
    caller = None

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[tuple[str, Any]] = []
        self.asked: list[tuple[str, Any]] = []
        self.answers = answers or {}

    async def report_progress(
        self, progress: float, total: float | None, message: str | None
    ) -> None:
        self.progress.append((progress, total, message))

    async def log(self, level: str, data: Any, logger: str | None) -> None:
        self.logs.append((level, data))

    def next_key(self) -> str:
        return f"q{len(self.asked)}"

    async def ask(self, questions: Any) -> Any:
        answers = {}
        for key, question in questions.items():
            self.asked.append((question.method, question.params()))
            answers[key] = self.answers[question.method]
        return answers

    async def read_resource(self, uri: str) -> list[ResourceContents]:
        return [ResourceContents(uri=uri, text="read")]


def ctx(state: Any = None, config: Any = None, scope: Scope | None = None) -> Context:
    return Context(plugin="p", state=state, config=config, scope=scope or Scope())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- schemas


def test_input_schema_from_signature_and_docstring() -> None:
    plugin = Plugin("p")

    @plugin.tool()
    async def forecast(
        city: str,
        days: int = 3,
        unit: Annotated[str, Field(description="C or F")] = "C",
        *,
        ctx: Context,
    ) -> str:
        """Forecast the weather.

        More text that is not the summary.

        Args:
            city: The city name.
            days (int): How many days
                ahead.
        """
        return city

    spec = registry_of(plugin).tools[0]
    assert spec.name == "forecast"
    assert spec.description == "Forecast the weather.\n\nMore text that is not the summary."
    assert spec.input_schema == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "city": {"type": "string", "description": "The city name."},
            "days": {"type": "integer", "default": 3, "description": "How many days ahead."},
            "unit": {"type": "string", "default": "C", "description": "C or F"},
        },
        "required": ["city"],
    }


def test_an_input_schema_of_ones_own_is_published_and_the_signature_validates() -> None:
    plugin = Plugin("p")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"phone": {"type": "string"}, "email": {"type": "string"}},
        "anyOf": [{"required": ["phone"]}, {"required": ["email"]}],
    }

    @plugin.tool(input_schema=schema)
    def contact(phone: str | None = None, email: str | None = None) -> str:
        return phone or email or "nobody"

    spec = registry_of(plugin).tools[0]
    assert spec.input_schema == schema
    assert anyio.run(spec.call, {"email": "a@b"}, ctx()).content[0]["text"] == "a@b"
    refused = anyio.run(spec.call, {"fax": "1"}, ctx())
    assert refused.is_error

    with pytest.raises(TypeError, match='"type": "object"'):

        @plugin.tool(input_schema={"type": "array"})
        def listy() -> str:
            return ""


def test_rest_docstrings() -> None:
    plugin = Plugin("p")

    @plugin.tool
    def add(a: int, b: int) -> int:
        """Add.

        :param a: first
        :param b: second
        """
        return a + b

    props = registry_of(plugin).tools[0].input_schema["properties"]
    assert props["a"]["description"] == "first"
    assert props["b"]["description"] == "second"


def test_decorator_options_and_original_function_returned() -> None:
    plugin = Plugin("p")

    def raw(x: int) -> int:
        return x

    decorated = plugin.tool(
        name="renamed", title="T", description="D", annotations={"readOnlyHint": True}
    )(raw)
    assert decorated is raw
    spec = registry_of(plugin).tools[0]
    assert (spec.name, spec.title, spec.description, spec.annotations) == (
        "renamed",
        "T",
        "D",
        {"readOnlyHint": True},
    )


def test_when_registers_conditionally() -> None:
    plugin = Plugin("p")

    @plugin.tool(when=lambda config: config == "writable")
    def write() -> str:
        return "w"

    assert registry_of(plugin, "read-only").tools == []
    assert [t.name for t in registry_of(plugin, "writable").tools] == ["write"]


def test_variadic_parameters_are_refused() -> None:
    plugin = Plugin("p")
    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):

        @plugin.tool
        def bad(*args: int) -> None: ...


# ---------------------------------------------------------------------------------- outputs


class Point(BaseModel):
    x: int
    y: int


@dataclass
class Pair:
    left: str
    right: str


class Row(TypedDict):
    id: int


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("annotation", "value", "schema_type", "structured", "text"),
    [
        (Point, Point(x=1, y=2), "object", {"x": 1, "y": 2}, '{"x":1,"y":2}'),
        (Pair, Pair("a", "b"), "object", {"left": "a", "right": "b"}, '{"left":"a","right":"b"}'),
        (Row, {"id": 3}, "object", {"id": 3}, '{"id":3}'),
        (dict[str, int], {"a": 1}, "object", {"a": 1}, '{"a":1}'),
        (int, 5, "wrapped", {"result": 5}, "5"),
        (str, "hi", "wrapped", {"result": "hi"}, "hi"),
        (
            list[Point],
            [Point(x=1, y=1)],
            "wrapped",
            {"result": [{"x": 1, "y": 1}]},
            '[{"x":1,"y":1}]',
        ),
    ],
)
async def test_structured_output(
    annotation: Any, value: Any, schema_type: str, structured: Any, text: str
) -> None:
    plugin = Plugin("p")

    async def handler() -> Any:
        return value

    handler.__annotations__["return"] = annotation
    plugin.tool(name="t")(handler)
    spec = registry_of(plugin).tools[0]
    assert spec.output_schema is not None
    if schema_type == "wrapped":
        assert spec.output_schema["required"] == ["result"]
    else:
        assert spec.output_schema["type"] == "object"
    outcome = await spec.call({}, ctx())
    assert outcome.structured == structured
    assert outcome.content == [{"type": "text", "text": text}]


@pytest.mark.anyio
async def test_content_helpers_and_no_annotation() -> None:
    plugin = Plugin("p")

    @plugin.tool
    async def picture() -> list[Text | Image]:
        return [Text("look"), Image(b"\x89PNG", "image/png")]

    @plugin.tool
    async def untyped():  # type: ignore[no-untyped-def]
        return {"a": 1}

    @plugin.tool(structured_output=False)
    async def plain() -> int:
        return 3

    @plugin.tool
    async def nothing() -> None:
        return None

    tools = {t.name: t for t in registry_of(plugin).tools}
    assert all(tools[n].output_schema is None for n in ("picture", "untyped", "plain", "nothing"))
    assert (await tools["picture"].call({}, ctx())).content == [
        {"type": "text", "text": "look"},
        {"type": "image", "data": "iVBORw==", "mimeType": "image/png"},
    ]
    assert (await tools["untyped"].call({}, ctx())).content == [{"type": "text", "text": '{"a":1}'}]
    assert (await tools["plain"].call({}, ctx())).content == [{"type": "text", "text": "3"}]
    assert (await tools["nothing"].call({}, ctx())).content == []


def test_content_helpers_serialize() -> None:
    assert ResourceLink("a://b", "b", mime_type="text/plain").to_content() == {
        "type": "resource_link",
        "uri": "a://b",
        "name": "b",
        "mimeType": "text/plain",
    }
    assert EmbeddedResource("a://b", blob=b"\x00").to_content() == {
        "type": "resource",
        "resource": {"uri": "a://b", "blob": "AA=="},
    }
    assert Text("x", annotations={"audience": ["user"]}).to_content() == {
        "type": "text",
        "text": "x",
        "annotations": {"audience": ["user"]},
    }


# ------------------------------------------------------------------------------- failures


@pytest.mark.anyio
async def test_failures_become_tool_errors() -> None:
    plugin = Plugin("p")

    @plugin.tool
    def refuse() -> str:
        raise ToolError("Not today; try tomorrow.")

    @plugin.tool
    def explode() -> str:
        raise KeyError("internal detail")

    @plugin.tool
    def count(n: int, names: list[str]) -> int:
        return n

    tools = {t.name: t for t in registry_of(plugin).tools}
    assert await tools["refuse"].call({}, ctx()) == ToolOutcome.error("Not today; try tomorrow.")
    crashed = await tools["explode"].call({}, ctx())
    assert crashed.is_error
    assert (
        crashed.content[0]["text"]
        == "Tool 'explode' failed: unexpected KeyError. The server log has the details."
    )
    invalid = await tools["count"].call({"n": "many", "names": "x", "extra": 1}, ctx())
    assert invalid.is_error
    assert invalid.content[0]["text"] == (
        "Invalid arguments for tool 'count': 'n' should be a valid integer, unable to parse string "
        "as an integer (got 'many'); 'names' should be a valid list (got 'x'); 'extra' is not a parameter."
    )


@pytest.mark.anyio
async def test_protocol_errors_and_cancellation_propagate() -> None:
    plugin = Plugin("p")

    @plugin.tool
    async def needs_roots() -> str:
        raise MissingCapabilityError("roots")

    @plugin.tool
    async def cancelled() -> str:
        raise anyio.get_cancelled_exc_class()()

    tools = {t.name: t for t in registry_of(plugin).tools}
    with pytest.raises(MissingCapabilityError):
        await tools["needs_roots"].call({}, ctx())
    with pytest.raises(anyio.get_cancelled_exc_class()):
        await tools["cancelled"].call({}, ctx())


@pytest.mark.anyio
async def test_sync_handlers_run_in_a_worker_thread() -> None:
    plugin = Plugin("p")
    seen: list[int] = []

    @plugin.tool
    def where() -> str:
        seen.append(threading.get_ident())
        return "ok"

    await registry_of(plugin).tools[0].call({}, ctx())
    assert seen
    assert seen[0] != threading.get_ident()


# ------------------------------------------------------------------------------- context


@pytest.mark.anyio
async def test_context_is_injected_with_state_and_config() -> None:
    plugin = Plugin("p")

    @plugin.tool
    async def use(*, context: Context) -> str:
        await context.report_progress(1, total=2, message="half")
        await context.warning("careful")
        return f"{context.state}-{context.config}"

    scope = Scope()
    outcome = await registry_of(plugin).tools[0].call({}, ctx("S", "C", scope))
    assert outcome.content[0]["text"] == "S-C"
    assert scope.progress == [(1, 2, "half")]
    assert scope.logs == [("warning", "careful")]
    assert "context" not in registry_of(plugin).tools[0].input_schema["properties"]


@pytest.mark.anyio
async def test_context_asks_the_user() -> None:
    class Form(BaseModel):
        name: str

    scope = Scope(
        {
            "elicitation/create": {"action": "accept", "content": {"name": "Ada"}},
            "sampling/createMessage": {
                "role": "assistant",
                "model": "m",
                "content": {"type": "text", "text": "ok"},
            },
            "roots/list": {"roots": [{"uri": "file:///a", "name": "a"}]},
        }
    )
    context = ctx(scope=scope)
    assert await context.elicit("Name?", Form) == ElicitResult("accept", {"name": "Ada"})
    method, params = scope.asked[0]
    assert method == "elicitation/create"
    assert params["requestedSchema"] == {
        "type": "object",
        "properties": {"name": {"type": "string", "title": "Name"}},
        "required": ["name"],
    }
    sampled = await context.sample("Hi?", max_tokens=5, temperature=0.2)
    assert sampled.text == "ok"
    assert sampled.model == "m"
    assert scope.asked[1][1] == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "Hi?"}}],
        "maxTokens": 5,
        "temperature": 0.2,
    }
    roots = await context.list_roots()
    assert [(r.uri, r.name) for r in roots] == [("file:///a", "a")]
    scope.answers["elicitation/create"] = {"action": "accept", "content": {"wrong": 1}}
    with pytest.raises(ToolError, match="does not match its schema"):
        await context.elicit("Name?", Form)


# ------------------------------------------------------------------ resources and prompts


@pytest.mark.anyio
async def test_resources_static_and_template() -> None:
    plugin = Plugin("p")

    @plugin.resource("p://readme", mime_type="text/markdown")
    def readme() -> str:
        """The readme."""
        return "# hi"

    @plugin.resource("p://items/{item_id}")
    async def item(item_id: int) -> Point:
        return Point(x=item_id, y=0)

    registry = registry_of(plugin)
    static = registry.resources[0]
    assert (static.uri, static.name, static.description, static.mime_type) == (
        "p://readme",
        "readme",
        "The readme.",
        "text/markdown",
    )
    assert await static.read("p://readme", {}, ctx()) == [
        ResourceContents("p://readme", text="# hi", mime_type="text/markdown")
    ]
    template = registry.resource_templates[0]
    contents = await template.read("p://items/7", {"item_id": "7"}, ctx())
    assert contents[0].text == '{"x": 7, "y": 0}'
    assert contents[0].mime_type == "application/json"


def test_template_parameters_must_match() -> None:
    plugin = Plugin("p")
    with pytest.raises(TypeError, match="must match the URI template"):

        @plugin.resource("p://{a}/{b}")
        def mismatched(a: str) -> str:
            return a


@pytest.mark.anyio
async def test_prompts() -> None:
    plugin = Plugin("p")

    @plugin.prompt()
    def review(code: str, language: str = "python") -> list[Any]:
        """Review code.

        Args:
            code: The code.
        """
        return [f"Review this {language}:", {"role": "assistant", "content": "Sure."}, Text(code)]

    @plugin.prompt(name="custom")
    async def outcome() -> PromptOutcome:
        return PromptOutcome([], description="empty")

    registry = registry_of(plugin)
    spec = registry.prompts[0]
    assert [(a.name, a.required, a.description) for a in spec.arguments] == [
        ("code", True, "The code."),
        ("language", False, None),
    ]
    rendered = await spec.render({"code": "x = 1"}, ctx())
    assert rendered.messages == [
        {"role": "user", "content": {"type": "text", "text": "Review this python:"}},
        {"role": "assistant", "content": {"type": "text", "text": "Sure."}},
        {"role": "user", "content": {"type": "text", "text": "x = 1"}},
    ]
    assert (await registry.prompts[1].render({}, ctx())).description == "empty"
    with pytest.raises(PromptError, match="'code' is required"):
        await spec.render({}, ctx())


# ------------------------------------------------------------------------------ the hooks


def test_a_plugin_object_implements_the_hooks_through_pluggy() -> None:
    class Config(BaseModel):
        level: int = 1

    plugin = Plugin("acme", config=Config, instructions="Use acme.")

    @plugin.tool
    def one() -> int:
        return 1

    @plugin.lifespan
    async def lifespan(config: Config) -> Any:
        yield config.level

    pm = pluggy.PluginManager("mcp_host")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="acme")
    pm.check_pending()
    assert pm.hook.mcp_host_config_model() is Config
    assert pm.hook.mcp_host_instructions(config=None) == ["Use acme."]
    registry = Registry("acme")
    pm.hook.mcp_host_register(registry=registry, config=Config())
    assert [t.name for t in registry.tools] == ["one"]

    async def enter() -> Any:
        async with pm.hook.mcp_host_lifespan(config=Config(level=5)) as state:
            return state

    assert anyio.run(enter) == 5


def test_config_must_be_a_model() -> None:
    with pytest.raises(TypeError, match="BaseModel"):
        Plugin("p", config=dict)  # type: ignore[arg-type]


def test_one_lifespan_only() -> None:
    plugin = Plugin("p")

    @plugin.lifespan
    async def first() -> Any:
        yield None

    with pytest.raises(TypeError, match="already has a lifespan"):

        @plugin.lifespan
        async def second() -> Any:
            yield None


def test_an_unschemable_return_type_is_served_as_plain_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import typing

    caplog.set_level(logging.WARNING, logger="mcp_host.authoring")

    class Legacy(typing.TypedDict):  # pydantic needs typing_extensions.TypedDict before 3.12
        a: int

    plugin = Plugin("p")

    @plugin.tool
    def old() -> Legacy:
        return {"a": 1}

    assert registry_of(plugin).tools[0].output_schema is None
    assert "no output schema for return type" in caplog.text
