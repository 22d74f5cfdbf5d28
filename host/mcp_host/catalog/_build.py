"""Building a ``Catalog`` from what each plugin registered.

Final names: the operator's ``prefix`` turns a tool or prompt ``name`` into ``prefix_name``
and a resource URI (or template) ``scheme://...`` into ``prefix+scheme://...``. Two plugins
arriving at the same final name is an error naming both: never a silent rename, never a
load-order winner. Order is plugin order, then registration order.

Text a plugin publishes (descriptions, titles, the descriptions inside input and output
schemas, its instructions) may name its own tools and prompts as ``{tool:NAME}`` and
``{prompt:NAME}``; they are replaced by the served names here (see ``_names``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mcp_host.authoring import param_headers
from mcp_host.authoring._context import Context
from mcp_host.authoring._names import ServedNames, prefixed_name, prefixed_uri, unprefixed_uri
from mcp_host.authoring._specs import (
    Middleware,
    PromptSpec,
    Registry,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolCall,
    ToolInvocation,
    ToolOutcome,
    ToolSpec,
)
from mcp_host.authoring.uritemplate import UriTemplate, UriTemplateError
from mcp_host.errors import CatalogError
from mcp_host.plugin.isolation import marks_call_next, register_middleware

from ._catalog import (
    Catalog,
    CatalogCompletion,
    CatalogPrompt,
    CatalogResource,
    CatalogTemplate,
    CatalogTool,
)
from ._handle import PluginHandle

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
LONG_NAME = 64
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

Contribution = tuple[PluginHandle, Registry]


def final_name(handle: PluginHandle, name: str) -> str:
    return prefixed_name(handle.prefix, name)


def final_uri(handle: PluginHandle, uri: str) -> str:
    return prefixed_uri(handle.prefix, uri)


def _check_name(kind: str, name: str, handle: PluginHandle, warnings: list[str]) -> None:
    if not NAME.match(name):
        raise CatalogError(
            f"Plugin {handle.describe()}: the {kind} name {name!r} is invalid: names are 1 to 128 "
            "characters of A-Z, a-z, 0-9, '_', '.' and '-'."
        )
    if len(name) > LONG_NAME:
        warnings.append(
            f"The {kind} name {name!r} of plugin {handle.name!r} is longer than {LONG_NAME} "
            "characters, which some LLM APIs reject."
        )


def _collision(kind: str, name: str, first: PluginHandle, second: PluginHandle) -> CatalogError:
    if first is second:
        return CatalogError(f"Plugin {first.describe()} registers the {kind} {name!r} twice.")
    return CatalogError(
        f"The {kind} {name!r} is contributed by both plugin {first.name!r} and plugin "
        f"{second.name!r}. Give one of them a prefix, e.g. [plugins.{second.name}] "
        f'prefix = "{second.name.replace("-", "_")}", or disable one.'
    )


def _compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (dict(v) if isinstance(v, Mapping) else v) for k, v in mapping.items() if v is not None
    }


def _tool_allowed(handle: PluginHandle, name: str) -> bool:
    if handle.tools_allow and not any(fnmatch.fnmatchcase(name, p) for p in handle.tools_allow):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in handle.tools_deny)


def _scopes(
    handle: PluginHandle,
    overrides: Mapping[str, frozenset[str]],
    served: str,
    author: frozenset[str],
) -> frozenset[str]:
    """The scopes an entry needs: the plugin's own, plus the operator's setting for the entry
    (by served name) when there is one, else the author's default. Always a union: an
    override replaces the author's scopes, never the plugin's."""
    own = overrides.get(served)
    return handle.scopes | (author if own is None else own)


def _scope_problems(
    contributions: Sequence[Contribution],
    tools: Mapping[str, CatalogTool],
    resources: Mapping[str, CatalogResource],
    templates: Mapping[str, CatalogTemplate],
    prompts: Mapping[str, CatalogPrompt],
) -> list[str]:
    """``[plugins.NAME.tools.scopes]`` (and prompts, resources) keys naming nothing the
    plugin serves: a typo there would leave the real entry with weaker scopes than meant."""
    problems: list[str] = []
    for handle, _registry in contributions:
        tables: tuple[tuple[str, str, Mapping[str, frozenset[str]], set[str]], ...] = (
            ("tools", "tool", handle.tool_scopes, _owned(tools, handle)),
            ("prompts", "prompt", handle.prompt_scopes, _owned(prompts, handle)),
            (
                "resources",
                "resource or resource template",
                handle.resource_scopes,
                _owned(resources, handle) | _owned(templates, handle),
            ),
        )
        for table, kind, overrides, served in tables:
            for key in overrides:
                if key in served:
                    continue
                hint = ""
                if table == "resources":
                    if final_uri(handle, key) in served:
                        hint = f" Did you mean {final_uri(handle, key)!r} (with the prefix)?"
                elif final_name(handle, key) in served:
                    hint = f" Did you mean {final_name(handle, key)!r} (with the prefix)?"
                folded = [name for name in served if name.casefold() == key.casefold()]
                if not hint and folded:
                    hint = f" Did you mean {folded[0]!r}? Names are case-sensitive."
                problems.append(
                    f"[plugins.{handle.name}.{table}.scopes] names the {kind} {key!r}, which "
                    f"plugin {handle.name!r} does not serve now (keys are served names, after "
                    "the prefix; not registered under this configuration, or left out by "
                    f"tools.allow/tools.deny).{hint or TYPO}"
                )
    return problems


TYPO = " If it is a typo, the entry meant has weaker scopes than intended."


def _owned(entries: Mapping[str, Any], handle: PluginHandle) -> set[str]:
    return {name for name, entry in entries.items() if entry.owner is handle}


def _with_middleware(
    name: str, plugin: str, call: ToolCall, middleware: Sequence[Middleware]
) -> ToolCall:
    for mw in reversed(middleware):

        def wrap(mw: Middleware, inner: ToolCall) -> ToolCall:
            @marks_call_next  # what raises or blocks below it is not the middleware's doing
            async def call_next(invocation: ToolInvocation) -> ToolOutcome:
                return await inner(invocation.arguments, invocation.ctx)

            async def wrapped(arguments: Mapping[str, Any], ctx: Context) -> ToolOutcome:
                return await mw(ToolInvocation(name, plugin, arguments, ctx), call_next)

            return wrapped

        call = wrap(mw, call)
    return call


class _Texts:
    """Renders ``{tool:NAME}``/``{prompt:NAME}`` in one plugin's published text, noting
    references to names the plugin does not serve."""

    def __init__(self, handle: PluginHandle, names: ServedNames, warnings: list[str]) -> None:
        self.handle = handle
        self.names = names
        self.warnings = warnings

    def text(self, text: str | None, where: str) -> str | None:
        if not text:
            return text
        rendered, unknown = self.names.render(text)
        for ref in unknown:
            self.warnings.append(
                f"Plugin {self.handle.name!r}: {where} refers to {ref}, which the plugin does "
                "not serve (not registered, or left out by tools.allow/tools.deny)."
            )
        return rendered

    def schema(self, node: Any, where: str) -> Any:
        """``node`` with every ``description`` rendered; the same object when nothing changed."""
        if isinstance(node, Mapping):
            changed: dict[str, Any] = {}
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    new = self.text(value, where)
                elif isinstance(value, Mapping | list):
                    new = self.schema(value, where)
                else:
                    continue
                if new is not value:
                    changed[key] = new
            return {**node, **changed} if changed else node
        if isinstance(node, list):
            items = [self.schema(item, where) for item in node]
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        return node


def _tool(
    handle: PluginHandle,
    spec: ToolSpec,
    name: str,
    middleware: Sequence[Middleware],
    texts: _Texts,
) -> CatalogTool:
    where = f"tool {spec.name!r}"
    descriptor = _compact(
        {
            "name": name,
            "title": texts.text(spec.title, where),
            "description": texts.text(spec.description, where),
            "inputSchema": texts.schema(spec.input_schema, where),
            "outputSchema": texts.schema(spec.output_schema, where),
            "annotations": spec.annotations,
            "icons": [dict(i) for i in spec.icons] if spec.icons else None,
            "_meta": spec.meta,
        }
    )
    call = _with_middleware(name, handle.name, spec.call, middleware)
    try:
        headers = param_headers.find(spec.input_schema)
    except ValueError as exc:
        raise CatalogError(
            f"Plugin {handle.describe()}: the input schema of tool {name!r} is invalid: {exc}."
        ) from None
    return CatalogTool(
        name,
        handle,
        spec,
        descriptor,
        call,
        headers,
        f"Tool '{name}'",
        _scopes(handle, handle.tool_scopes, name, spec.scopes),
    )


def _resource(handle: PluginHandle, spec: ResourceSpec, uri: str, texts: _Texts) -> CatalogResource:
    where = f"resource {spec.uri!r}"
    descriptor = _compact(
        {
            "uri": uri,
            "name": spec.name,
            "title": texts.text(spec.title, where),
            "description": texts.text(spec.description, where),
            "mimeType": spec.mime_type,
            "size": spec.size,
            "annotations": spec.annotations,
            "icons": [dict(i) for i in spec.icons] if spec.icons else None,
            "_meta": spec.meta,
        }
    )
    return CatalogResource(
        uri, handle, spec, descriptor, _scopes(handle, handle.resource_scopes, uri, spec.scopes)
    )


def _template(
    handle: PluginHandle, spec: ResourceTemplateSpec, template: str, texts: _Texts
) -> CatalogTemplate:
    where = f"resource template {spec.uri_template!r}"
    descriptor = _compact(
        {
            "uriTemplate": template,
            "name": spec.name,
            "title": texts.text(spec.title, where),
            "description": texts.text(spec.description, where),
            "mimeType": spec.mime_type,
            "annotations": spec.annotations,
            "icons": [dict(i) for i in spec.icons] if spec.icons else None,
            "_meta": spec.meta,
        }
    )
    try:
        parsed = UriTemplate(template)
    except UriTemplateError as exc:
        raise CatalogError(
            f"Plugin {handle.describe()}: the resource template {spec.uri_template!r} cannot be "
            f"served: {exc}."
        ) from None
    prefix = handle.prefix

    def plugin_uri(uri: str) -> str:
        return unprefixed_uri(prefix, uri)

    return CatalogTemplate(
        template,
        handle,
        spec,
        descriptor,
        parsed.match,
        plugin_uri,
        _scopes(handle, handle.resource_scopes, template, spec.scopes),
    )


def _prompt(handle: PluginHandle, spec: PromptSpec, name: str, texts: _Texts) -> CatalogPrompt:
    where = f"prompt {spec.name!r}"
    arguments = [
        _compact(
            {
                "name": a.name,
                "title": texts.text(a.title, where),
                "description": texts.text(a.description, where),
                "required": a.required,
            }
        )
        for a in spec.arguments
    ]
    descriptor = _compact(
        {
            "name": name,
            "title": texts.text(spec.title, where),
            "description": texts.text(spec.description, where),
            "arguments": arguments,
            "icons": [dict(i) for i in spec.icons] if spec.icons else None,
            "_meta": spec.meta,
        }
    )
    return CatalogPrompt(
        name, handle, spec, descriptor, _scopes(handle, handle.prompt_scopes, name, spec.scopes)
    )


def build_catalog(
    contributions: Sequence[Contribution],
    *,
    generation: int = 1,
    instructions: Sequence[str | tuple[PluginHandle, str]] = (),
    on_conflict: Callable[[PluginHandle, str], None] | None = None,
) -> Catalog:
    """Build the snapshot.

    An invalid name or a collision raises ``CatalogError``; with ``on_conflict``, that
    contribution is left out instead (the later plugin's, in plugin order) and
    ``on_conflict(handle, message)`` is told, so every conflict is known after one build.

    ``instructions``: the operator's text as it is, and ``(plugin, text)`` pairs whose
    ``{tool:NAME}``/``{prompt:NAME}`` references are rendered for that plugin.
    """
    warnings: list[str] = []
    served = {
        handle.name: ServedNames(
            handle.prefix,
            tools=[t.name for t in registry.tools if _tool_allowed(handle, t.name)],
            prompts=[p.name for p in registry.prompts],
        )
        for handle, registry in contributions
    }
    middleware = [mw for _handle, registry in contributions for mw in registry.middleware]
    for handle, registry in contributions:
        for mw in registry.middleware:
            register_middleware(mw, handle.name)
    tools: dict[str, CatalogTool] = {}
    resources: dict[str, CatalogResource] = {}
    templates: dict[str, CatalogTemplate] = {}
    prompts: dict[str, CatalogPrompt] = {}
    completions: dict[tuple[str, str, str], CatalogCompletion] = {}

    def conflict(handle: PluginHandle, exc: CatalogError) -> None:
        if on_conflict is None:
            raise exc
        on_conflict(handle, str(exc))

    for handle, registry in contributions:
        texts = _Texts(handle, served[handle.name], warnings)
        for tool_spec in registry.tools:
            if not _tool_allowed(handle, tool_spec.name):
                continue
            name = final_name(handle, tool_spec.name)
            try:
                _check_name("tool", name, handle, warnings)
                if name in tools:
                    raise _collision("tool", name, tools[name].owner, handle)
                tools[name] = _tool(handle, tool_spec, name, middleware, texts)
            except CatalogError as exc:
                conflict(handle, exc)
        for resource_spec in registry.resources:
            uri = final_uri(handle, resource_spec.uri)
            try:
                if not URI.match(uri):
                    raise CatalogError(
                        f"Plugin {handle.describe()}: the resource URI {resource_spec.uri!r} has "
                        "no scheme (expected something like 'scheme://path')."
                    )
                if uri in resources:
                    raise _collision("resource", uri, resources[uri].owner, handle)
                resources[uri] = _resource(handle, resource_spec, uri, texts)
            except CatalogError as exc:
                conflict(handle, exc)
        for template_spec in registry.resource_templates:
            template = final_uri(handle, template_spec.uri_template)
            try:
                if not URI.match(template):
                    raise CatalogError(
                        f"Plugin {handle.describe()}: the resource template "
                        f"{template_spec.uri_template!r} has no scheme."
                    )
                if template in templates:
                    raise _collision(
                        "resource template", template, templates[template].owner, handle
                    )
                templates[template] = _template(handle, template_spec, template, texts)
            except CatalogError as exc:
                conflict(handle, exc)
        for prompt_spec in registry.prompts:
            name = final_name(handle, prompt_spec.name)
            try:
                _check_name("prompt", name, handle, warnings)
                if name in prompts:
                    raise _collision("prompt", name, prompts[name].owner, handle)
                prompts[name] = _prompt(handle, prompt_spec, name, texts)
            except CatalogError as exc:
                conflict(handle, exc)
        for completion in registry.completions:
            ref = (
                final_name(handle, completion.ref)
                if completion.ref_type == "prompt"
                else final_uri(handle, completion.ref)
            )
            key = (completion.ref_type, ref, completion.argument)
            if key in completions:
                conflict(
                    handle,
                    _collision(
                        f"completion of {completion.argument!r} for",
                        ref,
                        completions[key].owner,
                        handle,
                    ),
                )
                continue
            completions[key] = CatalogCompletion(handle, completion)
    parts: list[str] = []
    for item in instructions:
        if isinstance(item, tuple):
            owner, raw = item
            rendered = _Texts(owner, served.get(owner.name, ServedNames(owner.prefix)), warnings)
            item = rendered.text(raw, "its instructions") or ""
        if item and item.strip():
            parts.append(item.strip())
    text = "\n\n".join(parts) or None
    problems = _scope_problems(contributions, tools, resources, templates, prompts)
    entries: list[Any] = [*tools.values(), *resources.values(), *templates.values()]
    entries += prompts.values()
    return Catalog(
        generation=generation,
        plugins=tuple(h for h, _ in contributions),
        tools=tools,
        resources=resources,
        templates=tuple(templates.values()),
        prompts=prompts,
        completions=completions,
        instructions=text,
        warnings=tuple(warnings),
        served=served,
        scopes_used=frozenset().union(*(entry.scopes for entry in entries)),
        scope_problems=tuple(problems),
    )
