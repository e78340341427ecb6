"""Settings: presets, environment, overrides and the API key (agent/config.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.config import NOT_PRESETS, McpServer, load_settings, public_dump, read_api_key
from agent.errors import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PRESETS = sorted(p.stem for p in CONFIGS.glob("*.toml") if p.stem not in NOT_PRESETS)
CANARY = "sk-canary-5f3e9d1c0b7a"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No DESKPILOT_* setting or API key from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DESKPILOT_") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)


def test_presets_exist():
    assert {"demo", "qwen3.7-plus", "dashscope-qwen3-vl-plus", "vllm-qwen2.5-vl"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_loads(preset):
    settings = load_settings(preset)
    assert settings.model.name
    assert settings.model.resize.max_pixels >= settings.model.resize.min_pixels


@pytest.mark.parametrize(
    ("preset", "name", "coords", "factor", "max_pixels"),
    [
        ("qwen3.7-plus", "qwen3.7-plus", "relative-1000", 32, 2_621_440),
        ("dashscope-qwen3-vl-plus", "qwen3-vl-plus", "relative-1000", 32, 2_621_440),
        ("vllm-qwen2.5-vl", "Qwen/Qwen2.5-VL-7B-Instruct", "image", 28, 1_003_520),
        ("demo", "scripted", "relative-1000", 32, 2_621_440),
    ],
)
def test_preset_values_reach_the_settings(preset, name, coords, factor, max_pixels):
    model = load_settings(preset).model
    assert (model.name, model.coords, model.resize.factor, model.resize.max_pixels) == (
        name,
        coords,
        factor,
        max_pixels,
    )


def test_default_preset_is_qwen3_7_plus():
    assert load_settings().model.name == "qwen3.7-plus"


def test_preset_alone():
    settings = load_settings("demo")
    assert (settings.model.name, settings.run.max_steps) == ("scripted", 10)


def test_environment_beats_preset(monkeypatch):
    monkeypatch.setenv("DESKPILOT_MODEL__NAME", "from-env")
    monkeypatch.setenv("DESKPILOT_RUN__MAX_STEPS", "7")
    settings = load_settings("demo")
    assert (settings.model.name, settings.run.max_steps) == ("from-env", 7)
    # the rest of the preset's sections survives
    assert settings.model.api_key_required is False
    assert settings.run.failsafe is False


def test_overrides_beat_environment(monkeypatch):
    monkeypatch.setenv("DESKPILOT_MODEL__NAME", "from-env")
    monkeypatch.setenv("DESKPILOT_RUN__MAX_STEPS", "7")
    settings = load_settings("demo", model={"name": "from-override"}, run={"max_steps": 3})
    assert (settings.model.name, settings.run.max_steps) == ("from-override", 3)


def test_override_of_one_field_keeps_the_preset_siblings():
    model = load_settings(
        "vllm-qwen2.5-vl", model={"name": "other", "resize": {"max_pixels": 5_000_000}}
    ).model
    assert (model.name, model.coords, model.tool_mode) == ("other", "image", "text")
    assert (model.resize.factor, model.resize.max_pixels) == (28, 5_000_000)


def test_none_overrides_are_ignored(monkeypatch):
    monkeypatch.setenv("DESKPILOT_RUN__MAX_STEPS", "7")
    settings = load_settings("demo", model={"name": None, "coords": None}, run={"max_steps": None})
    assert (settings.model.name, settings.model.coords, settings.run.max_steps) == (
        "scripted",
        "relative-1000",
        7,
    )


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="no preset named 'nosuch'") as caught:
        load_settings("nosuch")
    assert all(name in str(caught.value) for name in PRESETS)


def test_toml_file_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[model]\nname = "from-file"\ncoords = "image"\n\n[run]\nmax_steps = 4\n')
    settings = load_settings(str(path))
    assert (settings.model.name, settings.model.coords, settings.run.max_steps) == (
        "from-file",
        "image",
        4,
    )


def test_missing_toml_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "absent.toml"))


def test_broken_toml_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\nname =")
    with pytest.raises(ConfigError, match=r"cannot read settings .*broken\.toml"):
        load_settings(str(path))


@pytest.mark.parametrize(
    ("source", "field"),
    [
        pytest.param("override", "model.coords", id="override"),
        pytest.param("env", "model.coords", id="environment"),
        pytest.param("file", "model.coords", id="toml-file"),
    ],
)
def test_bad_coords_value_names_the_field(source, field, monkeypatch, tmp_path):
    preset, overrides = "demo", {}
    if source == "override":
        overrides = {"model": {"coords": "bogus"}}
    elif source == "env":
        monkeypatch.setenv("DESKPILOT_MODEL__COORDS", "bogus")
    else:
        preset = str(tmp_path / "bad.toml")
        Path(preset).write_text('[model]\ncoords = "bogus"\n')
    with pytest.raises(ConfigError, match="invalid settings") as caught:
        load_settings(preset, **overrides)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"run": {"max_steps": 0}}, "run.max_steps", id="max_steps-zero"),
        pytest.param({"model": {"resize": {"factor": 30}}}, "model.resize.factor", id="bad-factor"),
        pytest.param({"model": {"no_such_field": 1}}, "model.no_such_field", id="unknown-field"),
    ],
)
def test_other_bad_values_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as caught:
        load_settings("demo", **overrides)
    assert field in str(caught.value)


# --- the API key -----------------------------------------------------------------------------


def test_api_key_is_a_secret_that_does_not_print(monkeypatch):
    monkeypatch.setenv("DESKPILOT_API_KEY", CANARY)
    key = read_api_key(load_settings("qwen3.7-plus"))
    assert isinstance(key, SecretStr)
    assert key.get_secret_value() == CANARY
    assert CANARY not in str(key)
    assert CANARY not in repr(key)
    assert CANARY not in f"{key}"


def test_api_key_comes_from_the_variable_the_preset_names(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    key = read_api_key(load_settings("dashscope-qwen3-vl-plus"))
    assert key is not None and key.get_secret_value() == CANARY


@pytest.mark.parametrize(
    ("preset", "variable"),
    [("qwen3.7-plus", "DESKPILOT_API_KEY"), ("dashscope-qwen3-vl-plus", "DASHSCOPE_API_KEY")],
)
@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_missing_required_key_names_the_variable(preset, variable, value, monkeypatch):
    if value is not None:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match="no API key") as caught:
        read_api_key(load_settings(preset))
    assert variable in str(caught.value)


@pytest.mark.parametrize("preset", ["demo", "vllm-qwen2.5-vl"])
def test_missing_key_is_none_when_not_required(preset):
    assert read_api_key(load_settings(preset)) is None


@pytest.mark.parametrize("preset", PRESETS)
def test_public_dump_never_holds_the_key(preset, monkeypatch):
    for variable in ("DESKPILOT_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.setenv(variable, CANARY)
    settings = load_settings(preset)
    read_api_key(settings)  # reading the key must not stash it in the settings
    dumped = json.dumps(public_dump(settings))
    assert CANARY not in dumped
    assert json.loads(dumped)["model"]["name"] == settings.model.name


# --- other MCP servers: [[mcp_servers]] and --mcp-server ------------------------------------


def test_mcp_servers_come_from_the_toml_file_and_the_command_line(tmp_path: Path):
    preset = tmp_path / "mine.toml"
    preset.write_text(
        '[model]\nname = "m"\napi_key_required = false\n'
        '[[mcp_servers]]\nname = "files"\ncommand = ["npx", "-y", "server", "/data"]\n'
        'env = ["TOKEN"]\nrequired = true\n'
    )
    settings = load_settings(str(preset))
    [files] = settings.mcp_servers
    assert (files.command, files.env, files.required, files.timeout) == (
        ["npx", "-y", "server", "/data"],
        ["TOKEN"],
        True,
        60.0,
    )
    given = [McpServer.parse(t) for t in ("crm=https://crm.example/mcp", "py=python s.py 'a b'")]
    both = settings.with_mcp_servers(given)
    assert [(s.name, s.url, s.command) for s in both.mcp_servers[1:]] == [
        ("crm", "https://crm.example/mcp", None),
        ("py", None, ["python", "s.py", "a b"]),
    ]
    assert public_dump(both)["mcp_servers"][1]["url"] == "https://crm.example/mcp"
    with pytest.raises(ConfigError, match="two MCP servers are named files"):
        both.with_mcp_servers([McpServer.parse("FILES=other")])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("files", "takes NAME=COMMAND or NAME=URL"),
        ("a__b=ls", "is no MCP server name"),
        ("-x=ls", "is no MCP server name"),
        ("q=python 'unclosed", "No closing quotation"),
    ],
)
def test_a_bad_mcp_server_is_one_line(given: str, message: str):
    with pytest.raises(ConfigError, match=message) as caught:
        McpServer.parse(given)
    assert "\n" not in str(caught.value)


def test_an_mcp_server_has_a_command_or_a_url(tmp_path: Path):
    preset = tmp_path / "both.toml"
    preset.write_text('[[mcp_servers]]\nname = "x"\ncommand = ["a"]\nurl = "http://h/mcp"\n')
    with pytest.raises(ConfigError, match="give either command or url"):
        load_settings(str(preset))
