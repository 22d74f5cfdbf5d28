"""The configuration file's shape: ``[host]``, ``[http]``, ``[auth]``, ``[metrics]``,
``[logging]`` and ``[plugins.NAME]``.

One TOML file drives everything; environment variables and CLI flags map onto these fields
one-to-one (see ``loader``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .scopes import check_scope, scope_set


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HostSettings(_Section):
    """``[host]``: the host process."""

    plugins: list[str] | None = Field(
        None,
        description="Allowlist: only these plugins are imported and served (consent before "
        "third-party code runs). Unset: every installed plugin.",
    )
    disable_plugins: list[str] = Field(
        default_factory=list, description="Blocklist: these plugins are never imported."
    )
    on_plugin_error: Literal["fail", "skip"] = Field(
        "fail",
        description="A plugin that fails to load, configure or start: 'fail' stops start-up, "
        "'skip' reports it and serves the others.",
    )
    required_plugins: list[str] = Field(
        default_factory=list,
        description="Plugins the host is not ready without: /readyz answers 503 while one of "
        "them is not loaded, failed or is not ready.",
    )
    transport: Literal["stdio", "http", "sse"] = Field("stdio", description="How to serve.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Level of the host's log on stderr."
    )
    audit_log: bool = Field(
        True,
        description="Write the audit log: one record per tools/call, resources/read and "
        "prompts/get on the logger mcp_host.audit (when it is enabled for INFO). false: "
        "none, at no cost per request.",
    )
    server_name: str = Field("mcp-host", description="The name clients see in serverInfo.")
    instructions: str | None = Field(
        None, description="Text put before the plugins' instructions for models."
    )
    page_size: int = Field(100, ge=1, le=10_000, description="Items per page of list results.")
    cache_ttl_ms: int = Field(
        0, ge=0, description="ttlMs cache hint on discover, lists and reads (2026-07-28)."
    )
    cache_scope: Literal["public", "private"] = Field(
        "public", description="cacheScope cache hint (2026-07-28)."
    )
    state_secret: SecretStr | None = Field(
        None,
        description="Key sealing requestState of multi round-trip requests; share it across "
        "replicas. Unset: a random key per process.",
    )
    state_secrets: list[SecretStr] | None = Field(
        None,
        min_length=1,
        description="Keys sealing requestState, for rotation: the first seals, any of them "
        "opens. Put a new key first and keep the old one second for state_ttl_seconds. "
        "Instead of state_secret, not with it.",
    )
    state_ttl_seconds: int = Field(
        600, ge=1, description="How long a sealed requestState stays valid."
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest message accepted (stdio line, HTTP body)."
    )
    shutdown_grace: float = Field(
        10.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds requests in flight may take to finish on shutdown (SIGTERM, "
        "SIGINT, end of stdin), every transport; each one still running after it is answered "
        "with a 'server shutting down' error (-32000).",
    )
    blocking_threshold: float = Field(
        0.5,
        ge=0,
        description="Seconds a plugin's async handler may keep the event loop from running "
        "before the host logs which plugin and handler blocked it (once per handler). "
        "0: no check.",
    )

    @field_validator("state_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("the key is empty; give a random string of 32 bytes or more")
        return value

    @field_validator("state_secrets")
    @classmethod
    def _secrets_not_empty(cls, value: list[SecretStr] | None) -> list[SecretStr] | None:
        for index, secret in enumerate(value or ()):
            if not secret.get_secret_value():
                raise ValueError(
                    f"key {index + 1} is empty; give random strings of 32 bytes or more"
                )
        return value

    @model_validator(mode="after")
    def _one_way_to_give_keys(self) -> HostSettings:
        if self.state_secret is not None and self.state_secrets is not None:
            raise ValueError(
                "state_secret and state_secrets are both set; keep one: state_secrets = "
                "[new, old] to rotate, or state_secret alone"
            )
        return self

    @property
    def state_keys(self) -> tuple[bytes, ...] | None:
        """The sealing secrets, newest first, as bytes (``None``: none configured)."""
        if self.state_secrets is not None:
            return tuple(s.get_secret_value().encode() for s in self.state_secrets)
        if self.state_secret is not None:
            return (self.state_secret.get_secret_value().encode(),)
        return None


class HttpSettings(_Section):
    """``[http]``: the Streamable HTTP and HTTP+SSE transports."""

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=0, le=65535, description="Port to bind (0: any free port).")
    path: str = Field("/mcp", description="The MCP endpoint.")
    public_url: str | None = Field(
        None, description="The URL clients use (behind a proxy); drives allowed Host/Origin."
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Origins allowed besides the server's own."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host headers allowed besides the bound address."
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Request body limit.")
    legacy_sse: bool = Field(True, description="Serve the 2024-11-05 HTTP+SSE endpoints too.")
    sse_path: str = Field("/sse", description="HTTP+SSE stream endpoint.")
    messages_path: str = Field("/messages", description="HTTP+SSE message endpoint.")
    session_idle_timeout_seconds: int = Field(
        1800, ge=1, description="A legacy session unused this long ends."
    )
    max_sessions: int = Field(10_000, ge=1, description="Cap on concurrent legacy sessions.")
    max_sessions_per_client: int = Field(
        1000,
        ge=1,
        description="Cap on one client's concurrent legacy sessions: per Authorization "
        "credential, or per client address without one. Beyond it the client's own "
        "least recently used idle session makes room (else 429).",
    )
    unused_session_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A legacy session that sent no message after the one that created it "
        "(initialize, or the HTTP+SSE GET) ends after this long.",
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="A connection must deliver a complete request head this soon after it "
        "opens or after its previous response; else 408 and closed.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A request body must arrive complete this soon after its head; else 408 "
        "and closed.",
    )
    send_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="A client that reads nothing of its response for this long (the "
        "connection's send buffer stays full) is disconnected.",
    )
    max_connections: int = Field(
        4096,
        ge=1,
        description="Cap on open HTTP connections (also kept below the open-file limit). "
        "Beyond it a new connection replaces the one that has waited longest without sending "
        "a request, or is refused with 503 when all are busy.",
    )
    json_response: bool = Field(
        False, description="Legacy era: answer POSTs with JSON instead of SSE streams."
    )
    stateless: bool = Field(False, description="Legacy era: no sessions.")
    resume_buffer_events: int = Field(
        256,
        ge=1,
        description="Legacy era: recent SSE events kept per session, replayed to a GET with "
        "Last-Event-ID.",
    )
    loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto",
        description="Event loop of the HTTP transports: uvloop when it is installed ('auto', "
        "as uvicorn does), or always 'asyncio' / 'uvloop'. stdio always runs on asyncio.",
    )
    sse_retry_ms: int = Field(
        1000,
        ge=0,
        description="Legacy era (2025-11-25): the SSE retry field, how long a client waits "
        "before reconnecting a cut stream.",
    )


ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
"""The JWS algorithms an access token may be signed with: asymmetric only (never ``none``,
never an HMAC one, whose key would be the issuer's public key)."""

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's b64token: what a bearer credential may be made of."""


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, what: str, *, https_only: bool = True) -> str:
    """An absolute http(s) URL without a fragment; https unless the host is a loopback one
    (an authorization server on the same machine, in development and tests)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{what} {value!r} must be an absolute https:// URL")
    if parts.fragment:
        raise ValueError(f"{what} {value!r} must not have a fragment (#...)")
    if https_only and parts.scheme != "https" and not _loopback(host):
        raise ValueError(
            f"{what} {value!r} must use https:// (plain http is accepted only for a loopback "
            "address such as 127.0.0.1 or localhost)"
        )
    return value


class OAuthIssuer(_Section):
    """``[[auth.oauth]]``: an authorization server whose access tokens are accepted."""

    issuer: str = Field(
        description="The authorization server's issuer identifier, exactly as its tokens' "
        "'iss' claim and its metadata say it (trailing slash included or not)."
    )
    audience: str | None = Field(
        None,
        description="The 'aud' a token must carry to be accepted here. Unset: [auth] resource.",
    )
    jwks_uri: str | None = Field(
        None,
        description="Where the issuer's signing keys are. Unset: discovered from the issuer's "
        "metadata (RFC 8414 /.well-known/oauth-authorization-server, else OpenID "
        "/.well-known/openid-configuration).",
    )
    introspection_endpoint: str | None = Field(
        None,
        description="RFC 7662 introspection endpoint for opaque (non-JWT) tokens. Unset: "
        "discovered from the issuer's metadata when client_id is set; no introspection "
        "otherwise.",
    )
    client_id: str | None = Field(
        None, description="The client id this server introspects tokens with (HTTP Basic)."
    )
    client_secret: SecretStr | None = Field(
        None,
        description='Its secret, as a secret reference: { env = "VAR" } or { file = "/path" }.',
    )
    algorithms: list[str] = Field(
        default_factory=lambda: list(ASYMMETRIC_ALGORITHMS),
        min_length=1,
        description="JWS algorithms accepted on this issuer's tokens (asymmetric ones only).",
    )
    leeway_seconds: float = Field(
        30.0,
        ge=0,
        le=300,
        allow_inf_nan=False,
        description="Clock skew allowed on exp, nbf and iat.",
    )
    jwks_refresh_seconds: float = Field(
        60.0,
        ge=0,
        le=86_400,
        allow_inf_nan=False,
        description="Least time between two fetches of the signing keys when tokens name an "
        "unknown key id ('kid'): a flood of made-up kids cannot make this server hammer the "
        "issuer.",
    )
    jwks_max_age_seconds: float = Field(
        3600.0,
        gt=0,
        allow_inf_nan=False,
        description="The signing keys are fetched again after this long.",
    )
    introspection_cache_seconds: float = Field(
        30.0,
        ge=0,
        le=600,
        allow_inf_nan=False,
        description="How long an introspection answer is reused (a revoked token is refused "
        "at most this long after its revocation). 0: no cache.",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        _check_url(value, "issuer")
        if urlsplit(value).query:
            raise ValueError(f"issuer {value!r} must not have a query (RFC 8414)")
        return value

    @field_validator("audience")
    @classmethod
    def _audience_not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("audience is empty; give this server's resource identifier")
        return value

    @field_validator("jwks_uri", "introspection_endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else _check_url(value, info.field_name)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        wrong = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if wrong:
            raise ValueError(
                f"algorithm(s) {', '.join(map(repr, wrong))} are not accepted: access tokens "
                f"must be signed with an asymmetric algorithm, one of "
                f"{', '.join(ASYMMETRIC_ALGORITHMS)}"
            )
        return value

    @model_validator(mode="after")
    def _introspection_credentials(self) -> OAuthIssuer:
        if self.introspection_endpoint is not None and self.client_id is None:
            raise ValueError(
                f"issuer {self.issuer!r}: introspection_endpoint is set but client_id is not; "
                "introspection needs the client id and secret this server authenticates with"
            )
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError(
                f"issuer {self.issuer!r}: give client_id and client_secret together (the "
                "credentials this server introspects tokens with)"
            )
        return self


class ApiKey(_Section):
    """``[auth.api_keys.NAME]``: a key for service-to-service use."""

    key: SecretStr = Field(
        description='The key, as a secret reference: { env = "VAR" } or { file = "/path" }; '
        "clients send it as 'Authorization: Bearer <key>'."
    )
    scopes: list[str] = Field(default_factory=list, description="What the key grants.")

    @field_validator("key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret) < 16:
            raise ValueError(
                "the key is shorter than 16 characters; use a random one, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if not _B64TOKEN.fullmatch(secret):
            raise ValueError(
                "the key holds characters a client cannot send as 'Authorization: Bearer "
                "<key>': use letters, digits and -._~+/ (optionally ending with '='), as "
                "secrets.token_urlsafe does"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        return _check_scopes(value)


def _check_scopes(value: list[str], where: str = "") -> list[str]:
    try:
        scope_set(value)
    except ValueError as exc:
        raise ValueError(f"{where}{exc}") from None
    return value


class AuthSettings(_Section):
    """``[auth]``: authentication of the HTTP transports (see docs/auth.md)."""

    resource: str = Field(
        description="This server's resource identifier (RFC 8707, RFC 9728): the canonical "
        "URL of its MCP endpoint, e.g. https://mcp.example.com/mcp. Tokens must be minted "
        "for it (their audience)."
    )
    required: bool = Field(
        True,
        description="true: every request to the MCP endpoints needs a valid credential. false: "
        "a request without one is served as the anonymous caller (a credential that is given "
        "must still be valid).",
    )
    oauth: list[OAuthIssuer] = Field(
        default_factory=list, description="Authorization servers whose tokens are accepted."
    )
    api_keys: dict[str, ApiKey] = Field(
        default_factory=dict, description="API keys by name ([auth.api_keys.NAME])."
    )
    scopes_supported: list[str] | None = Field(
        None,
        description="The scopes_supported of the protected resource metadata. Unset: every "
        "scope the API keys grant.",
    )
    http_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        allow_inf_nan=False,
        description="Time limit of each request to an authorization server (metadata, keys, "
        "introspection).",
    )

    @field_validator("resource")
    @classmethod
    def _resource_url(cls, value: str) -> str:
        return _check_url(value, "resource")

    @field_validator("api_keys")
    @classmethod
    def _key_names(cls, value: dict[str, ApiKey]) -> dict[str, ApiKey]:
        for name in value:
            if (
                not name
                or not name.isascii()
                or not (name[0].isalnum())
                or not all(c.isalnum() or c in "_.-" for c in name)
            ):
                raise ValueError(
                    f"API key name {name!r}: use letters, digits, '_', '.' and '-', starting "
                    "with a letter or digit"
                )
        digests: dict[str, str] = {}
        for name, key in value.items():
            other = digests.setdefault(key.key.get_secret_value(), name)
            if other != name:
                raise ValueError(
                    f"API keys {other!r} and {name!r} have the same key; give each its own"
                )
        return value

    @field_validator("scopes_supported")
    @classmethod
    def _supported(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_scopes(value)

    @model_validator(mode="after")
    def _some_way_in(self) -> AuthSettings:
        if self.required and not self.oauth and not self.api_keys:
            raise ValueError(
                "[auth] requires a credential (required = true) but accepts none: add an "
                "authorization server ([[auth.oauth]]) or an API key ([auth.api_keys.NAME]), "
                "or set required = false"
            )
        issuers = [o.issuer for o in self.oauth]
        twice = sorted({i for i in issuers if issuers.count(i) > 1})
        if twice:
            raise ValueError(f"issuer {twice[0]!r} is configured twice in [[auth.oauth]]")
        return self


class MetricsSettings(_Section):
    """``[metrics]``: Prometheus metrics (docs/observability.md)."""

    enabled: bool = Field(
        False,
        description="Collect metrics and serve them in the Prometheus text format: on the HTTP "
        "transports at [metrics] path, or on the separate listener when [metrics] listen is set "
        "(the only way for stdio).",
    )
    path: str = Field(
        "/metrics",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="Path of the exposition, on the HTTP app and on the separate listener.",
    )
    listen: str | None = Field(
        None,
        description="A separate listener for the exposition, 'host:port' (e.g. "
        "'127.0.0.1:9464'); with it, the HTTP app does not serve the metrics. Needed for "
        "stdio; advised for HTTP once authentication is on.",
    )
    scope: str = Field(
        "mcp-host:metrics",
        description="With [auth], the metrics on the MCP port (no [metrics] listen) are "
        "served only to an authenticated caller granted this scope; the separate listener is "
        "not authenticated (bind it where only the scraper reaches it).",
    )

    @field_validator("scope")
    @classmethod
    def _scope_token(cls, value: str) -> str:
        return check_scope(value)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(
                f"{value!r} is not 'host:port' (e.g. '127.0.0.1:9464'; '[::1]:9464' for IPv6)"
            )
        return value

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """``listen`` split into host (brackets of an IPv6 address removed) and port."""
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class LoggingSettings(_Section):
    """``[logging]``: the host's log on stderr (its level is ``[host] log_level``)."""

    format: Literal["text", "json"] = Field(
        "text",
        description="'text': one readable line per record; 'json': one JSON object per line "
        "with time, level, logger, message and the request it was logged for "
        "(docs/observability.md).",
    )


class _ScopeTable(_Section):
    scopes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Served name -> the OAuth scopes a caller needs for it, replacing the "
        "plugin author's default (the plugin's own scopes are always needed too).",
    )

    @field_validator("scopes")
    @classmethod
    def _valid_scopes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, scopes in value.items():
            _check_scopes(scopes, f"{name!r}: ")
        return value


class ToolFilter(_ScopeTable):
    """``[plugins.NAME.tools]``: which tools are served, and the scopes each needs."""

    allow: list[str] = Field(default_factory=list, description="Glob patterns of tools to serve.")
    deny: list[str] = Field(default_factory=list, description="Glob patterns of tools to hide.")


class PromptSettings(_ScopeTable):
    """``[plugins.NAME.prompts]``: the scopes each prompt needs (by served name)."""


class ResourceSettings(_ScopeTable):
    """``[plugins.NAME.resources]``: the scopes each resource or resource template needs (by
    served URI or URI template)."""


class PluginSettings(_Section):
    """``[plugins.NAME]``: the operator's switches for one plugin."""

    enabled: bool = True
    prefix: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Prefix for this plugin's tool and prompt names (prefix_name) and URIs "
        "(prefix+scheme://...).",
    )
    tools: ToolFilter = Field(default_factory=ToolFilter)
    prompts: PromptSettings = Field(default_factory=PromptSettings)
    resources: ResourceSettings = Field(default_factory=ResourceSettings)
    scopes: list[str] = Field(
        default_factory=list,
        description="OAuth scopes a caller needs for any of this plugin's tools, resources "
        "and prompts, on top of each one's own (authenticated HTTP only).",
    )
    audit_arguments: bool = Field(
        False,
        description="Put the arguments of this plugin's tool calls and prompt gets in the "
        "audit log (mcp_host.audit), secret-looking values redacted. Off: never logged.",
    )
    call_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds one call into this plugin (a tool with its middleware, a prompt, "
        "a resource read, a completion) may take, waiting for a free slot included; past it "
        "the call is cancelled and answered 'timed out after N s'. Unset: no limit.",
    )
    max_concurrency: int | None = Field(
        None,
        ge=1,
        description="Calls into this plugin running at once; more wait for a free slot, "
        "within call_timeout. Unset: no limit.",
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="The plugin's own settings, checked by its model."
    )

    @field_validator("scopes")
    @classmethod
    def _valid_scopes(cls, value: list[str]) -> list[str]:
        return _check_scopes(value)


class HostConfig(_Section):
    """The whole configuration."""

    host: HostSettings = Field(default_factory=HostSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    auth: AuthSettings | None = Field(
        None,
        description="Authentication of the HTTP transports. Absent: nobody is authenticated.",
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    plugins: dict[str, PluginSettings] = Field(default_factory=dict)

    def plugin(self, name: str) -> PluginSettings:
        return self.plugins.get(name) or PluginSettings()
