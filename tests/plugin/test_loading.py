"""Discovery through real entry points, the operator's switches, and every load error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_host.config import load_config
from mcp_host.errors import CatalogError, PluginError, PluginLoadError
from mcp_host.host import Host
from mcp_host.plugin.discovery import decide, discover
from tests.messages import INIT


def load(tmp_path: Path, toml: str = "", *, policy: str | None = None, **cli: Any) -> Host:
    config = tmp_path / "mcp-host.toml"
    config.write_text(toml)
    loaded = load_config(
        config, env={}, cli={k.replace("__", "."): (f"--{k}", v) for k, v in cli.items()}
    )
    return Host.load(loaded, on_plugin_error=policy)  # type: ignore[arg-type]


def test_discovery_reads_metadata_without_importing(on_path: Path) -> None:
    found = {c.name: c for c in discover()}
    assert found["acme-good"].distribution == "acme-good"
    assert found["acme-good"].version == "1.2.3"
    assert found["acme-good"].target == "acme_good:plugin"
    assert not (on_path / "acme-good-imported").exists()


def test_a_plugin_object_is_loaded_and_served(on_path: Path) -> None:
    host = load(on_path, host__plugins=["acme-good"])
    assert list(host.catalog.current.tools) == ["hello", "internal_debug"]
    record = next(r for r in host.records if r.name == "acme-good")
    assert record.status == "enabled"
    assert record.contributions["tools"] == 2
    assert (on_path / "acme-good-imported").exists()


def test_a_module_of_hookimpls_is_a_plugin(on_path: Path) -> None:
    host = load(on_path, host__plugins=["acme-hooks"])
    assert list(host.catalog.current.tools) == ["hello"]


def test_allowlist_is_consent_before_import(on_path: Path) -> None:
    host = load(on_path, host__plugins=["acme-hooks"])
    assert not (on_path / "acme-good-imported").exists()
    record = next(r for r in host.records if r.name == "acme-good")
    assert (record.status, record.reason) == ("disabled", "not on the allowlist")


def test_blocklist_and_enabled_false_win_over_the_allowlist(on_path: Path) -> None:
    host = load(
        on_path,
        "[plugins.acme-hooks]\nenabled = false\n",
        host__plugins=["acme-good", "acme-hooks"],
        host__disable_plugins=["acme-good"],
    )
    reasons = {r.name: r.reason for r in host.records if r.name in ("acme-good", "acme-hooks")}
    assert reasons == {
        "acme-good": "disabled by the blocklist",
        "acme-hooks": "disabled: [plugins.acme-hooks] enabled = false",
    }
    assert not (on_path / "acme-good-imported").exists()


def test_allowlist_naming_an_uninstalled_plugin(on_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="'nope', which is not installed"):
        load(on_path, host__plugins=["nope"])


def test_allowlist_order_is_plugin_order(on_path: Path) -> None:
    host = load(
        on_path, '[plugins.acme-hooks]\nprefix = "raw"\n', host__plugins=["acme-hooks", "acme-good"]
    )
    assert list(host.catalog.current.tools) == ["raw_hello", "hello", "internal_debug"]


@pytest.mark.parametrize(
    ("plugin", "fragments"),
    [
        (
            "acme-broken",
            [
                "Cannot import plugin 'acme-broken'",
                "acme_broken:plugin",
                "acme-broken 1.2.3",
                "ModuleNotFoundError",
                "does_not_exist_module_xyz",
            ],
        ),
        (
            "acme-misspelled",
            ["unknown hook(s) mcp_host_registr", "misspelled", "mcp_host_register"],
        ),
        ("acme-notaplugin", ["does not reference a plugin", "int"]),
        ("acme-badsig", ["invalid hook", "surprise"]),
        ("acme-async-hook", ["returned a coroutine"]),
    ],
)
def test_load_errors_name_the_plugin_and_the_fix(
    on_path: Path, plugin: str, fragments: list[str]
) -> None:
    with pytest.raises(PluginError) as info:
        load(on_path, host__plugins=[plugin])
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert f"[plugins.{plugin}] enabled = false" in message
    assert f"--no-plugin {plugin}" in message


def test_import_errors_are_chained(on_path: Path) -> None:
    from mcp_host.plugin.loader import load_candidate, make_plugin_manager

    candidate = next(c for c in discover() if c.name == "acme-broken")
    with pytest.raises(PluginLoadError) as info:
        load_candidate(make_plugin_manager(), candidate)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_fail_reports_every_failure_at_once(on_path: Path) -> None:
    with pytest.raises(PluginError) as info:
        load(on_path, host__plugins=["acme-broken", "acme-misspelled", "acme-good"])
    assert "acme-broken" in str(info.value)
    assert "acme-misspelled" in str(info.value)


def test_skip_serves_the_others(on_path: Path) -> None:
    host = load(on_path, policy="skip", host__plugins=["acme-broken", "acme-good"])
    statuses = {r.name: r.status for r in host.records if r.name.startswith("acme-")}
    assert statuses["acme-broken"] == "failed"
    assert statuses["acme-good"] == "enabled"
    assert "hello" in host.catalog.current.tools
    broken = next(r for r in host.records if r.name == "acme-broken")
    assert broken.error is not None
    assert "does_not_exist_module_xyz" in broken.error


def test_collision_names_both_plugins_and_suggests_a_prefix(on_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        load(on_path, host__plugins=["acme-good", "acme-hooks"])
    message = str(info.value)
    assert "'hello'" in message
    assert "'acme-good'" in message
    assert "'acme-hooks'" in message
    assert "prefix" in message


def test_prefix_applies_to_tools_prompts_and_resources(on_path: Path) -> None:
    host = load(on_path, '[plugins.acme-good]\nprefix = "acme"\n', host__plugins=["acme-good"])
    catalog = host.catalog.current
    assert list(catalog.tools) == ["acme_hello", "acme_internal_debug"]
    assert list(catalog.prompts) == ["acme_ask"]
    assert list(catalog.resources) == ["acme+acme://status"]


def test_tool_filters(on_path: Path) -> None:
    host = load(
        on_path, '[plugins.acme-good]\ntools.deny = ["internal_*"]\n', host__plugins=["acme-good"]
    )
    assert list(host.catalog.current.tools) == ["hello"]
    host = load(
        on_path, '[plugins.acme-good]\ntools.allow = ["int*"]\n', host__plugins=["acme-good"]
    )
    assert list(host.catalog.current.tools) == ["internal_debug"]


def test_plugin_config_is_validated_by_its_model(on_path: Path) -> None:
    host = load(
        on_path, '[plugins.acme-good.config]\ngreeting = "yo"\n', host__plugins=["acme-good"]
    )
    record = next(r for r in host.records if r.name == "acme-good")
    assert record.handle is not None
    assert record.handle.config.greeting == "yo"
    with pytest.raises(PluginError) as info:
        load(on_path, '[plugins.acme-good.config]\ngreting = "typo"\n', host__plugins=["acme-good"])
    message = str(info.value)
    assert "mcp-host.toml" in message
    assert "[plugins.acme-good.config]" in message
    assert "greting" in message


def test_config_for_a_plugin_without_a_model_is_an_error(on_path: Path) -> None:
    with pytest.raises(PluginError, match="takes no configuration"):
        load(on_path, "[plugins.acme-hooks.config]\nx = 1\n", host__plugins=["acme-hooks"])


def test_decide_keeps_sorted_order_without_allowlist(on_path: Path) -> None:
    loaded = load_config(None, env={})
    names = [d.candidate.name for d in decide(discover(), loaded.config)]
    assert names == sorted(names)


@pytest.mark.slow
def test_installing_a_package_and_restarting_is_all_it_takes(
    installed: Path, tmp_path: Path
) -> None:
    """A fresh process finds a pip-installed plugin through its entry point."""
    from .conftest import pip_install, write_distribution

    source = write_distribution(
        tmp_path / "src",
        "fresh-plugin",
        "fresh_plugin:plugin",
        "from mcp_host import Plugin\nplugin = Plugin('fresh-plugin')\n\n@plugin.tool()\ndef fresh() -> str:\n    return 'new'\n",
    )
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(site)}
    command = [sys.executable, "-m", "mcp_host", "tools", "--json", "--plugin", "fresh-plugin"]
    before = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert before.returncode != 0
    assert "not installed" in before.stderr
    pip_install([source], site)
    after = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert [t["name"] for t in json.loads(after.stdout)] == ["fresh"]


def _serve(installed: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(installed), "MCP_TEST_MARKER_DIR": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_host", "serve", "--plugin", "acme-lifespan"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["sigterm", "sigint", "eof"])
def test_serve_exits_lifespans_on_shutdown(installed: Path, tmp_path: Path, ending: str) -> None:
    import signal

    proc = _serve(installed, tmp_path)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(json.dumps(INIT).encode() + b"\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["result"]["serverInfo"]["name"] == "mcp-host"
    if ending == "eof":
        proc.stdin.close()
    else:
        proc.send_signal(signal.SIGTERM if ending == "sigterm" else signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    if not proc.stdin.closed:
        proc.stdin.close()
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    assert (tmp_path / "lifespan.log").read_text().split() == ["enter", "exit"]


@pytest.mark.slow
def test_http_serve_exits_lifespans_on_sigterm(installed: Path, tmp_path: Path) -> None:
    import signal

    env = {
        **os.environ,
        "PYTHONPATH": str(installed),
        "MCP_TEST_MARKER_DIR": str(tmp_path),
        "MCP_HOST_HTTP_PORT": "0",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcp_host",
            "serve",
            "--transport",
            "http",
            "--plugin",
            "acme-lifespan",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    assert "serving http://127.0.0.1:" in proc.stderr.readline()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    proc.stderr.close()
    assert (tmp_path / "lifespan.log").read_text().split() == ["enter", "exit"]


@pytest.mark.slow
def test_serve_warns_about_a_misspelled_plugin_name_and_serves(
    installed: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed), "MCP_TEST_MARKER_DIR": str(tmp_path)}
    env.pop("MCP_HOST_DISABLE_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "mcp_host", "serve", "--plugin", "acme-lifespan"],
        input=json.dumps(INIT) + "\n",
        capture_output=True,
        text=True,
        env={**env, "MCP_HOST_DISABLE_PLUGINS": "acme-lifespn"},
        cwd=tmp_path,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["serverInfo"]["name"] == "mcp-host"
    warnings = [line for line in done.stderr.splitlines() if "acme-lifespn" in line]
    assert len(warnings) == 1, done.stderr
    assert "WARNING" in warnings[0]
    assert "did you mean 'acme-lifespan'" in warnings[0]


def test_unknown_names_are_warnings_when_loading(
    on_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(PluginLoadError, match="'acme-nope', which is not installed"):
        load(on_path, host__plugins=["acme-good", "acme-nope"])
    assert not (on_path / "acme-good-imported").exists()  # consent: nothing was imported
    host = load(
        on_path,
        "[plugins.acme-godo]\nenabled = false\n",
        policy="skip",
        host__plugins=["acme-good", "acme-nope"],
    )
    assert [u.setting for u in host.unknown_names] == ["host.plugins", "plugins"]
    assert "hello" in host.catalog.current.tools
    assert "[plugins.acme-godo] in " in caplog.text
    assert "did you mean 'acme-good'" in caplog.text
