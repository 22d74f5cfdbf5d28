"""The hooks a plugin implements: the reference for authors who use pluggy directly.

Most plugins never implement these by hand: ``mcp_host.Plugin`` implements them from its
decorators. A plugin written against the hooks is any object or module carrying functions
marked ``@mcp_host.hookimpl`` whose names are the hook names below.

The host calls every hook once **per plugin** that implements it, with that plugin's own
arguments, so each contribution is attributed to the plugin that made it. Each call goes
through pluggy: every loaded plugin's ``wrapper=True``/``hookwrapper=True`` implementations
wrap it, ``tryfirst``/``trylast`` order it, ``firstresult`` hooks stop at the first non-``None``
result. A plugin implements only the hooks it needs and only the parameters it wants (pluggy
passes arguments by name). Hooks are synchronous and declarative; async work lives in the
objects they return or register. A hook that returns a coroutine is an error naming the plugin.

Phases, in order: **configure** (``mcp_host_config_model``), **register**
(``mcp_host_register``, ``mcp_host_instructions``), **run** (``mcp_host_connect``,
``mcp_host_lifespan``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from mcp_host.authoring._markers import hookspec

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mcp_host.authoring._specs import PluginEvents, Registry

# ---------------------------------------------------------------------------------- configure


@hookspec(firstresult=True)
def mcp_host_config_model() -> type[BaseModel] | None:
    """Return the pydantic model that validates this plugin's configuration.

    The host validates the ``[plugins.NAME.config]`` table of the configuration file with it
    (secret references already resolved) and passes the model instance as ``config`` to the
    other hooks, to the lifespan and to handlers (``ctx.config``). Without a model the plugin
    receives ``None`` and a non-empty config table is an error.

    :return: a ``pydantic.BaseModel`` subclass, or ``None`` when the plugin takes no settings.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------------- register


@hookspec
def mcp_host_register(registry: Registry, config: Any) -> None:
    """Register the plugin's tools, resources, resource templates, prompts, completions,
    middleware and readiness checks.

    Called once at start-up, after configuration and before any lifespan runs. Register in a
    stable order: it is the order in which clients list them.

    :param registry: records this plugin's contributions (``registry.tool(spec)``,
        ``registry.resource(spec)``, ``registry.resource_template(spec)``,
        ``registry.prompt(spec)``, ``registry.completion(spec)``,
        ``registry.add_middleware(fn)``, ``registry.readiness(check)``).
    :param config: the plugin's validated configuration, or ``None``.

    .. versionadded:: 0.1
    """


@hookspec
def mcp_host_instructions(config: Any) -> str | None:
    """Return text for the server's ``instructions``, telling a model how to use this plugin.

    The host joins every plugin's text, in plugin order, into one ``instructions`` string.
    ``{tool:NAME}`` and ``{prompt:NAME}`` in it become the served names of the plugin's own
    tool or prompt ``NAME`` (with the operator's prefix).

    :param config: the plugin's validated configuration, or ``None``.
    :return: the text, or ``None`` for none.

    .. versionadded:: 0.1
    """


# ---------------------------------------------------------------------------------------- run


@hookspec
def mcp_host_connect(events: PluginEvents) -> None:
    """Receive the object through which the plugin announces changes while it is served.

    Called once, after registration and before the lifespan is entered. Keep ``events`` and
    call ``events.resource_updated(uri)`` (with the plugin's own URI; the host applies the
    operator's prefix) whenever a resource's contents change: clients that subscribed to it
    are notified (``notifications/resources/updated``). Safe to call from any task.

    :param events: the plugin's ``mcp_host.PluginEvents``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def mcp_host_lifespan(config: Any) -> AbstractAsyncContextManager[Any] | None:
    """Return the async context manager that holds the plugin's resources while the host runs.

    Entered once per process before anything is served, in plugin order; exited in reverse
    order on shutdown, and also when a later plugin fails to start. What it yields becomes
    ``ctx.state`` for the plugin's handlers and the argument of its readiness checks. An
    exception while entering it is a start-up failure of this plugin (see
    ``[host] on_plugin_error``).

    :param config: the plugin's validated configuration, or ``None``.
    :return: an async context manager, or ``None`` when the plugin needs no lifespan.

    .. versionadded:: 0.1
    """
