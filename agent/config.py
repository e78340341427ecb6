"""Settings: a TOML preset from configs/, then DESKPILOT_* environment variables, then CLI flags.

Later sources win. Nested fields use `__` in the environment, e.g. DESKPILOT_MODEL__BASE_URL or
DESKPILOT_RUN__MAX_STEPS. The API key is not a setting: it is read from the environment variable
that `model.api_key_env` names, and only ever held as a SecretStr.

`model.profile` names the model family. What none of the three sources sets of the family's
settings (coords, dialect, tool_mode, resize key by key, history_images, history_turns) is taken
from the profile (PROFILE_DEFAULTS), so: flags, then environment, then preset, then profile.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.errors import ConfigError
from agent.parse.dialects import Dialect
from agent.perception.coords import CoordSpace
from agent.perception.imaging import ImageFormat
from agent.perception.screen import SettleRule
from agent.redact import mask_url

DEFAULT_PRESET = "qwen3.7-plus"
ToolMode = Literal["auto", "native", "text"]
# cache_control markers: explicit always, off never, auto where the provider does best with
# them (DashScope); agent/model/cache.py
CacheMode = Literal["auto", "explicit", "off"]
# A model family: the prompt, tool description, coordinate space, parser and history policy its
# own harness uses, as one unit (agent/model/profiles.py holds the texts).
Profile = Literal[
    "qwen3", "qwen2.5-vl", "ui-tars-1.5", "gui-plus", "qwen3-mobile", "qwen2.5-mobile"
]
PROFILES: tuple[str, ...] = get_args(Profile)
DEFAULT_PROFILE: Profile = "qwen3"
# Families whose harness writes the actions into the prompt instead of sending a tool.
PROMPT_ONLY_PROFILES = frozenset({"ui-tars-1.5", "gui-plus"})
# The settings each profile implies. A value given by the preset, the environment or a flag
# wins; a missing one is taken from here (for `resize`, key by key).
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Qwen3-VL, Qwen3.5 and later: a 0..1000 grid; OSWorld's agent keeps the last 4 steps with
    # their screenshots (plus the current one) and sums up older steps as "Step i: ...".
    "qwen3": {
        "coords": "relative-1000",
        "dialect": "auto",
        "tool_mode": "auto",
        "resize": {"factor": 32, "min_pixels": 4 * 32 * 32, "max_pixels": 2_621_440},
        "history_images": 5,
        "history_chunk": 7,  # make bench: the smallest chunk with 80 % of the prompt cached
        "history_turns": 4,
    },
    # Qwen2.5-VL: pixels of the smart-resized image (factor 28), the tool in the system prompt
    # (Model Studio's Qwen2.5-VL models take no native tools); OSWorld's history.
    "qwen2.5-vl": {
        "coords": "image",
        "dialect": "auto",
        "tool_mode": "text",
        "resize": {"factor": 28, "min_pixels": 4 * 28 * 28, "max_pixels": 1280 * 28 * 28},
        "history_images": 5,
        "history_turns": 4,
    },
    # UI-TARS-1.5: its own Thought/Action prompt and pixels of the smart-resized image
    # (factor 28, its own pixel budget); its agent sends the last 5 screenshots and keeps
    # every earlier reply as text.
    "ui-tars-1.5": {
        "coords": "image",
        "dialect": "uitars",
        "tool_mode": "text",
        "resize": {"factor": 28, "min_pixels": 100 * 28 * 28, "max_pixels": 16384 * 28 * 28},
        "history_images": 5,
        "history_chunk": 8,  # make bench: the smallest chunk with 80 % of the prompt cached
        "history_turns": 50,
    },
    # gui-plus (Model Studio): its own JSON-action system prompt and pixels of the image after
    # the server's resize (factor 28, its default budget). The vendor's page shows no history
    # policy, so deskpilot's own is kept.
    "gui-plus": {
        "coords": "image",
        "dialect": "gui-plus",
        "tool_mode": "text",
        "resize": {"factor": 28, "min_pixels": 4 * 28 * 28, "max_pixels": 1280 * 28 * 28},
        "history_images": 3,
        "history_turns": 12,
    },
    # Qwen's phone agents (mobile_use): the current screenshot only, earlier steps as progress
    # lines. Qwen3: a 0..999 grid ("The screen's resolution is 999x999"); Qwen2.5-VL: pixels of
    # the smart-resized image, the tool in the system prompt.
    "qwen3-mobile": {
        "coords": "relative-999",
        "dialect": "auto",
        "tool_mode": "auto",
        "resize": {"factor": 32, "min_pixels": 4 * 32 * 32, "max_pixels": 2_621_440},
        "history_images": 1,
        "history_chunk": 1,
        "history_turns": 1,
    },
    "qwen2.5-mobile": {
        "coords": "image",
        "dialect": "auto",
        "tool_mode": "text",
        "resize": {"factor": 28, "min_pixels": 4 * 28 * 28, "max_pixels": 1280 * 28 * 28},
        "history_images": 1,
        "history_chunk": 1,
        "history_turns": 1,
    },
}
# On a phone (an adb: desktop), a desktop profile becomes its generation's phone profile unless
# a flag or the environment names the profile: the default preset's qwen3 is Qwen3's desktop
# agent, and the same models drive phones through mobile_use.
PHONE_PROFILES: dict[str, Profile] = {"qwen3": "qwen3-mobile", "qwen2.5-vl": "qwen2.5-mobile"}
PROFILE_ENV = "DESKPILOT_MODEL__PROFILE"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResizeSettings(_Section):
    """Qwen's smart_resize rule for the image sent to the model."""

    factor: Literal[28, 32] = 32  # 32 for Qwen3-VL and later, 28 for Qwen2.5-VL
    min_pixels: int = Field(default=4 * 32 * 32, gt=0)
    max_pixels: int = Field(default=2_621_440, gt=0)  # DashScope's default for Qwen3-VL


class Prices(_Section):
    """What the model costs, per million tokens (0 when unknown: cost then shows 0)."""

    input: float = Field(default=0.0, ge=0)
    cached_input: float = Field(default=0.0, ge=0)
    # Prompt tokens written to an explicit cache (DashScope: 125 % of input); None: as input.
    cache_write: float | None = Field(default=None, ge=0)
    output: float = Field(default=0.0, ge=0)  # reasoning tokens are billed as output
    currency: str = "USD"


class ModelSettings(_Section):
    """Which model to talk to, and how."""

    base_url: str = "https://api.modelstream.ai/v1"  # POST {base_url}/chat/completions
    name: str = "qwen3.7-plus"
    api_key_env: str = "DESKPILOT_API_KEY"  # the environment variable holding the key
    api_key_required: bool = True  # false for local servers that take no key
    # The model family; it sets the defaults of coords, dialect, tool_mode, resize and the
    # history below (PROFILE_DEFAULTS), and picks the prompt and the tool's description.
    profile: Profile = DEFAULT_PROFILE
    coords: CoordSpace = "relative-1000"  # the space the model's coordinates are in
    dialect: Dialect = "auto"  # the action syntax to read; auto tries every known one in order
    # The screen size the model is told (Anthropic/OpenAI style): the screenshot is scaled to it
    # and `image` coordinates are pixels of it. None: the smart_resize size.
    display_size: tuple[PositiveInt, PositiveInt] | None = None
    tool_mode: ToolMode = "auto"  # native `tools`, text `<tool_call>`, or native + text parsing
    image_format: ImageFormat = "png"
    resize: ResizeSettings = ResizeSettings()
    temperature: float | None = 0.0
    top_p: float | None = None
    max_tokens: int = Field(default=1024, gt=0)
    reasoning_effort: str | None = None  # "none" disables thinking on gateways that take it
    enable_thinking: bool | None = None  # DashScope's switch for hybrid thinking models
    thinking_budget: int | None = Field(default=None, gt=0)  # DashScope: cap on reasoning tokens
    stream: bool = False  # stream the reply (server-sent events); long replies then never time out
    cache: CacheMode = "auto"  # cache_control markers on the stable prefix (DashScope: auto)
    extra_body: dict[str, Any] = {}  # sent as-is, e.g. enable_thinking, vl_high_resolution_images
    history_images: int = Field(default=3, ge=1)  # screenshots the model always sees (at least)
    # Older screenshots and steps are dropped this many at a time, so that between two drops
    # every request extends the last one (a provider's prompt cache serves all but the newest
    # step); the model sees at most history_images + history_chunk - 1 screenshots. 5 is the
    # cheapest for every profile in `make bench` (qwen3 and ui-tars-1.5 take the smallest that
    # has 80 % of the prompt cached); 1 slides the window every step, as the families' own
    # harnesses do.
    history_chunk: int = Field(default=5, ge=1)
    # Screenshots from before the last compaction go at this share of their sides (0.5: a
    # quarter of the image tokens); the newest is always sent as taken. 1 sends all as taken.
    history_scale: float = Field(default=0.5, gt=0, le=1)
    history_turns: int = Field(default=12, ge=1)  # steps kept in full; older ones become one line
    history_summary: int = Field(default=30, ge=0)  # one-line summaries kept of older steps
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)  # VLM answers can take a while
    max_retries: int = Field(default=4, ge=0)
    max_retry_wait: float = Field(default=60.0, ge=0)  # a longer Retry-After is an error
    prices: Prices = Prices()

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        """Fill what the preset, environment and flags left unset from the profile."""
        if not isinstance(data, dict):
            return data
        defaults = PROFILE_DEFAULTS.get(data.get("profile", DEFAULT_PROFILE))
        if defaults is None:
            return data  # an unknown profile: the field's own validation names the choices
        filled = dict(data)
        for key, value in defaults.items():
            given = filled.get(key)
            if isinstance(value, dict) and isinstance(given, dict):
                filled[key] = {**value, **given}
            elif key not in filled:
                filled[key] = value
        return filled

    @model_validator(mode="after")
    def _tool_mode_fits_profile(self) -> ModelSettings:
        """A family whose actions are in its prompt (UI-TARS) has no tool to send natively."""
        if self.profile in PROMPT_ONLY_PROFILES and self.tool_mode != "text":
            raise ValueError(
                f"profile {self.profile} writes its actions into the prompt and sends no tool; "
                f"tool_mode must be text, not {self.tool_mode}"
            )
        return self

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """An http:// or https:// URL with a host; anything else is a usage error (exit 2)."""
        shown = repr(mask_url(value))  # the message must not carry a password
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (reading it checks the port)
        except ValueError as error:
            raise ValueError(f"{shown} is not a valid URL ({error})") from None
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(f"{shown} holds a space or a control character")
        if parts.scheme not in {"http", "https"}:
            raise ValueError(f"{shown} must start with http:// or https://")
        if not parts.hostname:
            raise ValueError(f"{shown} names no host")
        return value


class SettleSettings(_Section):
    """When the screen counts as still after an action (SettleRule says why these defaults)."""

    quiet: float = Field(default=0.1, ge=0)  # seconds without a change, seen by X DAMAGE events
    poll_quiet: float = Field(default=0.3, ge=0)  # the same, seen by comparing grabs
    # After a move or a wait, when nothing at all changed: no answer is coming (DAMAGE only).
    still_quiet: float = Field(default=0.05, ge=0)
    first_change: float = Field(default=0.5, ge=0)  # a click or key first waits this for a change
    timeout: float = Field(default=5.0, gt=0)
    tolerance: int = Field(default=64, ge=0)  # changed pixels ignored (a blinking caret)

    def rule(self) -> SettleRule:
        """These settings as the rule the screen settles by."""
        return SettleRule(
            quiet=self.quiet,
            poll_quiet=self.poll_quiet,
            still_quiet=self.still_quiet,
            first_change=self.first_change,
            timeout=self.timeout,
            tolerance=self.tolerance,
        )


class RunSettings(_Section):
    """How a run behaves on the desktop."""

    max_steps: int = Field(default=30, gt=0)
    max_mistakes: int = Field(default=3, gt=0)  # consecutive bad replies before stopping
    max_seconds: float | None = Field(default=None, gt=0)  # wall-time budget of the run
    max_tokens: int | None = Field(default=None, gt=0)  # prompt + completion tokens, all steps
    max_cost: float | None = Field(default=None, gt=0)  # in model.prices.currency
    loop_nudge_after: int = Field(default=3, ge=2)  # same action on an unchanged screen: nudge
    loop_stop_after: int = Field(default=5, ge=2)  # ... and stop the run
    runs_dir: Path = Path("runs")
    # --desktop: x11::N, :N, wayland:[SOCKET], vnc://HOST:PORT, adb:[SERIAL]; default: the session's
    desktop: str | None = None
    display: str | None = None  # an X display (":1"): the older name of desktop = ":1"
    vnc_password_env: str = "DESKPILOT_VNC_PASSWORD"  # where a VNC desktop's password is read
    monitor: int = Field(default=1, ge=1)  # mss numbering: 1 is the first monitor
    dry_run: bool = False
    failsafe: bool = True  # pointer in a corner stops pyautogui; set false on virtual displays
    policy: Path | None = None  # the policy gate's rules; None: configs/policy.toml
    yes: bool = False  # approve every action a policy rule says to confirm
    secrets: list[str] = []  # names of environment variables the model may type as placeholders
    # "a11y": each step's message also lists the focused window's controls with their boxes
    observe: Literal["screen", "a11y"] = "screen"
    settle: SettleSettings = SettleSettings()


# An MCP server's name: its tools are offered as NAME__TOOL, so it holds no "__" and no other
# character a provider refuses in a function name.
MCP_SERVER_NAME = r"[A-Za-z0-9][A-Za-z0-9-]{0,19}"


class McpServer(_Section):
    """Another MCP server whose tools the model may call ([[mcp_servers]], --mcp-server)."""

    name: str  # letters, digits and -: the prefix of its tools' names
    command: list[str] | None = Field(default=None, min_length=1)  # stdio: the program and args
    url: str | None = None  # streamable HTTP: http(s)://host:port/mcp
    env: list[str] = []  # names of environment variables passed on to a stdio server
    cwd: Path | None = None  # a stdio server's working folder
    bearer_token_env: str | None = None  # HTTP: the variable holding the bearer token
    start_timeout: float = Field(default=60.0, gt=0)  # to start and list its tools
    timeout: float = Field(default=60.0, gt=0)  # for one tool call
    required: bool = False  # the task cannot go on without it: its loss stops the run

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not re.fullmatch(MCP_SERVER_NAME, name):
            raise ValueError(
                f"{name!r} is no MCP server name: up to 20 letters, digits and -, "
                "starting with a letter or digit (its tools are offered as NAME__TOOL)"
            )
        return name

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name}: give either command or url")
        if self.url is not None:
            McpServer._http_url(self.url)
        return self

    @staticmethod
    def _http_url(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{mask_url(url)!r} must be an http:// or https:// URL with a host")

    @classmethod
    def parse(cls, text: str) -> McpServer:
        """NAME=COMMAND (split as a shell would) or NAME=URL, as --mcp-server takes it."""
        name, sep, rest = text.partition("=")
        if not sep or not rest.strip():
            raise ConfigError(f"--mcp-server takes NAME=COMMAND or NAME=URL, not {text!r}")
        given: dict[str, Any] = {"name": name.strip()}
        if rest.strip().startswith(("http://", "https://")):
            given["url"] = rest.strip()
        else:
            try:
                given["command"] = shlex.split(rest)
            except ValueError as error:
                raise ConfigError(f"--mcp-server {name}: {error}") from None
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            raise ConfigError(f"--mcp-server {name}: {_first_lines(error)}") from None


class Settings(BaseSettings):
    """All settings of a run."""

    model_config = SettingsConfigDict(
        env_prefix="DESKPILOT_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    model: ModelSettings = ModelSettings()
    run: RunSettings = RunSettings()
    mcp_servers: list[McpServer] = []  # other MCP servers whose tools the model may call

    @field_validator("mcp_servers")
    @classmethod
    def _unique_names(cls, servers: list[McpServer]) -> list[McpServer]:
        twice = _named_twice(servers)
        if twice:
            raise ValueError(f"two MCP servers are named {twice}: each needs a name of its own")
        return servers

    def with_mcp_servers(self, servers: list[McpServer]) -> Settings:
        """These settings with `servers` added after the preset's (names stay unique)."""
        combined = [*self.mcp_servers, *servers]
        twice = _named_twice(combined)
        if twice:
            raise ConfigError(f"two MCP servers are named {twice}: each needs a name of its own")
        return self.model_copy(update={"mcp_servers": combined})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: CLI flags (init), then the environment, then the preset file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def _named_twice(servers: list[McpServer]) -> str | None:
    """A name two servers share (in any case), or None."""
    names = [server.name.lower() for server in servers]
    return next((name for name in names if names.count(name) > 1), None)


# Files in configs/ that are no settings preset: the gate's policies (agent/policy/), the default
# one and those named with --policy NAME (policy-NAME.toml).
NOT_PRESETS = frozenset({"policy", "policy-strict"})


def preset_path(name_or_path: str) -> Path:
    """The TOML file for a preset name (e.g. 'demo') or a path."""
    as_path = Path(name_or_path)
    # A folder that happens to share a preset's name (a Ray node runs in the scenarios' folder,
    # which holds demo/) is no config file: look the name up as a preset then.
    if as_path.suffix == ".toml" or as_path.is_file():
        if not as_path.is_file():
            raise ConfigError(f"config file {as_path} does not exist")
        return as_path
    for folder in config_folders():
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file() and name_or_path not in NOT_PRESETS:
            return candidate
    known = sorted({p.stem for f in config_folders() for p in f.glob("*.toml")} - NOT_PRESETS)
    raise ConfigError(f"no preset named {name_or_path!r}; known presets: {', '.join(known)}")


def config_folders() -> list[Path]:
    """Where presets live: the checkout's configs/, else the copy bundled in the package."""
    here = Path(__file__).resolve().parent
    return [p for p in (here.parent / "configs", here / "bundled" / "configs") if p.is_dir()]


def load_settings(preset: str | None = None, **overrides: Any) -> Settings:
    """Settings from a preset, the environment and `overrides` (nested dicts, None = not given)."""
    path = preset_path(preset or DEFAULT_PRESET)
    with_file = type(
        "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
    )
    given = _drop_none(overrides)
    try:
        settings = with_file(**given)
        phone = _phone_profile(settings, given)
        if phone is not None:
            settings = with_file(**{**given, "model": {**given.get("model", {}), "profile": phone}})
        return settings
    except ValidationError as error:
        raise ConfigError(f"invalid settings (preset {path}): {_first_lines(error)}") from None
    except ValueError as error:  # a broken TOML file or environment value
        raise ConfigError(f"cannot read settings (preset {path}): {error}") from None


def _phone_profile(settings: Settings, given: dict[str, Any]) -> Profile | None:
    """The phone profile a run on an adb: desktop takes instead of the preset's desktop one."""
    on_phone = (settings.run.desktop or "").startswith("adb:")
    named = "profile" in given.get("model", {}) or os.environ.get(PROFILE_ENV)
    if not on_phone or named:
        return None
    return PHONE_PROFILES.get(settings.model.profile)


def read_api_key(settings: Settings) -> SecretStr | None:
    """The API key from the environment variable the settings name; None if not required."""
    name = settings.model.api_key_env
    value = os.environ.get(name, "").strip() if name else ""
    if value and not all(" " <= c <= "~" for c in value):
        # httpx refuses such a header value; the key itself is never shown.
        raise ConfigError(
            f"the API key in {name} holds a character that cannot go into an HTTP header "
            "(only printable ASCII can; often a pasted curly quote or non-breaking space): "
            f"set {name} again"
        )
    if value:
        return SecretStr(value)
    if settings.model.api_key_required:
        raise ConfigError(
            f"no API key: set {name or 'the variable named by model.api_key_env'} "
            f"(e.g. export {name or 'DESKPILOT_API_KEY'}=sk-...) "
            "or choose another preset with --config"
        )
    return None


def public_dump(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-ready data, for run.json: no key (not a setting), no URL password."""
    data = settings.model_dump(mode="json")
    data["model"]["base_url"] = mask_url(settings.model.base_url)
    return data


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def _first_lines(error: ValidationError, limit: int = 3) -> str:
    parts = []
    for item in error.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
