"""The tools, resources and prompts the conformance suite's scenarios call by name."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from mcp_host import (
    Audio,
    Context,
    EmbeddedResource,
    Image,
    Plugin,
    ResourceContents,
    Text,
    ToolError,
)

# A 1x1 PNG and a short silent WAV: small, valid media for the content tests.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WAV = base64.b64decode("UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=")

plugin = Plugin(
    "mcp-host-everything",
    instructions="Fixtures for the MCP conformance suite; not for production use.",
)

WATCHED = "test://watched-resource"


class Watched:
    """State of the resource that changes every few seconds."""

    def __init__(self) -> None:
        self.version = 0


@plugin.lifespan
async def lifespan() -> AsyncIterator[Watched]:
    watched = Watched()
    async with anyio.create_task_group() as tg:

        async def tick() -> None:
            while True:
                await anyio.sleep(3)
                watched.version += 1
                plugin.resource_updated(WATCHED)

        tg.start_soon(tick)
        yield watched
        tg.cancel_scope.cancel()


# ------------------------------------------------------------------------------------ tools


@plugin.tool(description="Tests simple text content response")
def test_simple_text() -> Text:
    return Text("This is a simple text response for testing.")


@plugin.tool(description="Tests image content response")
def test_image_content() -> Image:
    return Image(PNG, "image/png")


@plugin.tool(description="Tests audio content response")
def test_audio_content() -> Audio:
    return Audio(WAV, "audio/wav")


@plugin.tool(description="Tests embedded resource content response")
def test_embedded_resource() -> EmbeddedResource:
    return EmbeddedResource(
        "test://embedded-resource",
        text="This is an embedded resource content.",
        mime_type="text/plain",
    )


@plugin.tool(description="Tests response with multiple content types (text, image, resource)")
def test_multiple_content_types() -> list[Text | Image | EmbeddedResource]:
    return [
        Text("Multiple content types test:"),
        Image(PNG, "image/png"),
        EmbeddedResource(
            "test://mixed-content-resource",
            text=json.dumps({"test": "data", "value": 123}),
            mime_type="application/json",
        ),
    ]


@plugin.tool(description="Tests tool that emits log messages during execution")
async def test_tool_with_logging(*, ctx: Context) -> Text:
    for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        await ctx.info(message)
        await anyio.sleep(0.05)
    return Text("Tool with logging executed successfully")


@plugin.tool(description="Tests tool that reports progress notifications")
async def test_tool_with_progress(*, ctx: Context) -> Text:
    for step in (0, 50, 100):
        await ctx.report_progress(step, total=100, message=f"Completed step {step} of 100")
        await anyio.sleep(0.05)
    return Text(str(ctx.progress_token if ctx.progress_token is not None else 0))


@plugin.tool(description="Tests error response handling")
def test_error_handling() -> str:
    raise ToolError("This tool intentionally returns an error for testing")


@plugin.tool(description="Tests server-initiated sampling (LLM completion request)")
async def test_sampling(prompt: str, *, ctx: Context) -> Text:
    """Tests server-initiated sampling (LLM completion request).

    Args:
        prompt: The prompt to send to the LLM
    """
    answer = await ctx.sample(prompt, max_tokens=100)
    return Text(f"LLM response: {answer.text}")


@plugin.tool(description="Tests server-initiated elicitation (user input request)")
async def test_elicitation(message: str, *, ctx: Context) -> Text:
    """Tests server-initiated elicitation (user input request).

    Args:
        message: The message to show the user
    """
    schema = {
        "type": "object",
        "properties": {"response": {"type": "string", "description": "User's response"}},
        "required": ["response"],
    }
    answer = await ctx.elicit(message, schema)
    return Text(f"User response: action={answer.action}, content={_compact(answer.content)}")


@plugin.tool(description="Tests elicitation with default values per SEP-1034")
async def test_elicitation_sep1034_defaults(*, ctx: Context) -> Text:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }
    answer = await ctx.elicit("Please review and update the form fields with defaults", schema)
    return Text(
        f"Elicitation completed: action={answer.action}, content={_compact(answer.content)}"
    )


@plugin.tool(description="Tests elicitation with enum schema improvements per SEP-1330")
async def test_elicitation_sep1330_enums(*, ctx: Context) -> Text:
    def titled(prefix: str, word: str) -> list[dict[str, str]]:
        names = ("First", "Second", "Third")
        return [{"const": f"{prefix}{i + 1}", "title": f"{names[i]} {word}"} for i in range(3)]

    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": titled("value", "Option"),
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": {"anyOf": titled("value", "Choice")},
            },
        },
        "required": [],
    }
    answer = await ctx.elicit("Please select options from the enum fields", schema)
    return Text(
        f"Elicitation completed: action={answer.action}, content={_compact(answer.content)}"
    )


def _compact(value: Any) -> str:
    return json.dumps(value or {}, separators=(",", ":"))


# -------------------------------------------------------------------------------- resources


@plugin.resource(
    "test://static-text", name="static-text", title="Static Text Resource", mime_type="text/plain"
)
def static_text() -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@plugin.resource(
    "test://static-binary",
    name="static-binary",
    title="Static Binary Resource",
    mime_type="image/png",
)
def static_binary() -> bytes:
    """A static binary resource (image) for testing"""
    return PNG


@plugin.resource(
    "test://template/{id}/data",
    name="template",
    title="Resource Template",
    mime_type="application/json",
)
def template(id: str) -> ResourceContents:
    """A resource template with parameter substitution"""
    data = {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}
    return ResourceContents(
        uri=f"test://template/{id}/data", text=json.dumps(data), mime_type="application/json"
    )


@plugin.resource(WATCHED, name="watched-resource", title="Watched Resource", mime_type="text/plain")
def watched_resource(ctx: Context) -> str:
    """A resource that auto-updates every 3 seconds"""
    state: Watched = ctx.state
    return f"Watched resource content, version {state.version}"


# ---------------------------------------------------------------------------------- prompts


@plugin.prompt(title="Simple Test Prompt")
def test_simple_prompt() -> str:
    """A simple prompt without arguments"""
    return "This is a simple prompt for testing."


@plugin.prompt(title="Prompt With Arguments")
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with required arguments

    Args:
        arg1: First test argument
        arg2: Second test argument
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@plugin.prompt(title="Prompt With Embedded Resource")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[Any]:
    """A prompt that includes an embedded resource

    Args:
        resourceUri: URI of the resource to embed
    """
    return [
        EmbeddedResource(
            resourceUri, text="Embedded resource content for testing.", mime_type="text/plain"
        ),
        "Please process the embedded resource above.",
    ]


@plugin.prompt(title="Prompt With Image")
def test_prompt_with_image() -> list[Any]:
    """A prompt that includes image content"""
    return [Image(PNG, "image/png"), "Please analyze the image above."]


# The 2026-07-28 multi round-trip and stateless diagnostics live in their own module.
from .input_required import (  # noqa: E402
    register,
    register_header_fixture,
    register_list_change_fixtures,
    register_schema_fixture,
)

register(plugin)
register_schema_fixture(plugin)
register_header_fixture(plugin)
register_list_change_fixtures(plugin)
