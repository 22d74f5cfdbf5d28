"""Fixtures for the 2026-07-28 multi round-trip scenarios (input-required results) and the
stateless-server diagnostics: questions asked under the names the suite expects, several in
one round, across rounds, and only for capabilities the client declared."""

from __future__ import annotations

from typing import Annotated, Any

from mcp_host import (
    Context,
    Elicitation,
    ListRoots,
    McpHeader,
    Plugin,
    Question,
    Sampling,
    Text,
)

NAME_FORM = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}


def _form(field: str, kind: str = "string") -> dict[str, Any]:
    return {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}


def register(plugin: Plugin) -> None:
    @plugin.tool(description="Asks the user's name (input-required, one elicitation)")
    async def test_input_required_result_elicitation(*, ctx: Context) -> Text:
        answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
        name = (answer.content or {}).get("name", "stranger")
        return Text(f"Hello, {name}!")

    @plugin.tool(description="Asks the client's model a question (input-required, sampling)")
    async def test_input_required_result_sampling(*, ctx: Context) -> Text:
        answer = await ctx.sample(
            "What is the capital of France?", max_tokens=100, key="capital_question"
        )
        return Text(f"The model answered: {answer.text}")

    @plugin.tool(description="Asks the client's roots (input-required, roots/list)")
    async def test_input_required_result_list_roots(*, ctx: Context) -> Text:
        roots = await ctx.list_roots(key="client_roots")
        return Text("Roots: " + ", ".join(root.uri for root in roots))

    @plugin.tool(description="Asks for confirmation; the answer arrives with requestState")
    async def test_input_required_result_request_state(*, ctx: Context) -> Text:
        answer = await ctx.elicit("Please confirm", _form("ok", "boolean"), key="confirm")
        # The host checked the requestState's integrity before the handler ran again.
        return Text(f"state-ok: confirmation {answer.action}")

    @plugin.tool(description="Asks elicitation, sampling and roots in one round")
    async def test_input_required_result_multiple_inputs(*, ctx: Context) -> Text:
        answers = await ctx.ask(
            {
                "user_name": Elicitation("What is your name?", NAME_FORM),
                "greeting": Sampling("Generate a greeting", max_tokens=50),
                "client_roots": ListRoots(),
            }
        )
        name = (answers["user_name"].content or {}).get("name", "stranger")
        roots = ", ".join(root.uri for root in answers["client_roots"])
        return Text(f"{answers['greeting'].text} {name} (roots: {roots})")

    @plugin.tool(description="Asks two questions in two rounds")
    async def test_input_required_result_multi_round(*, ctx: Context) -> Text:
        first = await ctx.elicit("Step 1: What is your name?", NAME_FORM, key="step1")
        second = await ctx.elicit(
            "Step 2: What is your favorite color?", _form("color"), key="step2"
        )
        name = (first.content or {}).get("name", "stranger")
        color = (second.content or {}).get("color", "no color")
        return Text(f"{name} likes {color}.")

    @plugin.tool(description="Asks a question; the requestState it returns is signed")
    async def test_input_required_result_tampered_state(*, ctx: Context) -> Text:
        answer = await ctx.elicit("Please confirm", _form("ok", "boolean"), key="confirm")
        return Text(f"Confirmed: {answer.action}")

    @plugin.tool(description="Asks only what the client declared it can answer")
    async def test_input_required_result_capabilities(*, ctx: Context) -> Text:
        declared = ctx.client_capabilities
        questions: dict[str, Question] = {}
        if "elicitation" in declared:
            questions["user_name"] = Elicitation("What is your name?", NAME_FORM)
        if "sampling" in declared:
            questions["greeting"] = Sampling("Generate a greeting", max_tokens=50)
        if "roots" in declared:
            questions["client_roots"] = ListRoots()
        if not questions:
            return Text("The client declared no capability to ask through.")
        answers = await ctx.ask(questions)
        return Text(f"Answered: {', '.join(sorted(answers))}")

    @plugin.prompt(description="A prompt that first asks the user for context")
    async def test_input_required_result_prompt(*, ctx: Context) -> str:
        answer = await ctx.elicit(
            "What context should the prompt use?", _form("context"), key="user_context"
        )
        context = (answer.content or {}).get("context", "none given")
        return f"Answer with this context in mind: {context}"

    @plugin.tool(description="Needs sampling: fails with -32021 when it is not declared")
    async def test_missing_capability(*, ctx: Context) -> Text:
        answer = await ctx.sample("Say hello", max_tokens=20)
        return Text(answer.text)

    @plugin.tool(description="Asks the user while its response streams progress")
    async def test_streaming_elicitation(*, ctx: Context) -> Text:
        await ctx.report_progress(0, total=1, message="asking")
        answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
        await ctx.report_progress(1, total=1)
        return Text(f"Hello, {(answer.content or {}).get('name', 'stranger')}!")

    @plugin.tool(description="Logs at every level; nothing is sent unless a logLevel asks")
    async def test_logging_tool(*, ctx: Context) -> Text:
        for level in ("debug", "info", "warning", "error"):
            await ctx.log(level, f"a {level} message from test_logging_tool")
        return Text("logged")


JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def register_schema_fixture(plugin: Plugin) -> None:
    @plugin.tool(
        description="Publishes a JSON Schema 2020-12 input schema with every keyword kept",
        input_schema=JSON_SCHEMA_2020_12,
    )
    def json_schema_2020_12_tool(
        name: str | None = None,
        address: dict[str, str] | None = None,
        contactMethod: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> Text:
        return Text(f"contact {name or 'someone'} by {contactMethod or 'any means'}")


def register_header_fixture(plugin: Plugin) -> None:
    @plugin.tool(description="Mirrors its region parameter into the Mcp-Param-Region header")
    def test_custom_header(
        region: Annotated[str, McpHeader("Region")],
        query: str = "",
        priority: Annotated[int | None, McpHeader("Priority")] = None,
    ) -> Text:
        return Text(f"region={region} query={query} priority={priority}")


def register_list_change_fixtures(plugin: Plugin) -> None:
    """``test_trigger_tool_change`` / ``test_trigger_prompt_change`` add or remove a tool or a
    prompt at run time, so clients listening for list changes hear one."""
    shown = {"tool": False, "prompt": False}

    @plugin.tool(description="A tool that comes and goes", when=lambda _: shown["tool"])
    def test_dynamic_tool() -> Text:
        return Text("here for now")

    @plugin.prompt(description="A prompt that comes and goes", when=lambda _: shown["prompt"])
    def test_dynamic_prompt() -> str:
        return "here for now"

    @plugin.tool(description="Adds or removes test_dynamic_tool (the tool list changes)")
    def test_trigger_tool_change() -> Text:
        shown["tool"] = not shown["tool"]
        plugin.contributions_changed()
        return Text(f"test_dynamic_tool {'added' if shown['tool'] else 'removed'}")

    @plugin.tool(description="Adds or removes test_dynamic_prompt (the prompt list changes)")
    def test_trigger_prompt_change() -> Text:
        shown["prompt"] = not shown["prompt"]
        plugin.contributions_changed()
        return Text(f"test_dynamic_prompt {'added' if shown['prompt'] else 'removed'}")
