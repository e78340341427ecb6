"""The scenario file format: a desktop to prepare, steps and/or a task, and checks of the end state.

    name: calculator adds
    tags: [galculator, steps]
    display: {width: 1280, height: 800}             # its own virtual desktop (kind: x11, or
                                                   # wayland for a headless sway), or
    # desktop: vnc://127.0.0.1:5901                # a desktop that is already there: x11::N,
                                                   # :N, wayland:[SOCKET], vnc://HOST:PORT
                                                   # or adb:[SERIAL] (a phone)
    setup:
      files: {notes.txt: ""}                       # created in the scenario's work folder
      serve: pages                                 # a folder served on 127.0.0.1 ({url})
      launch:
        - {argv: [galculator], geometry: [0, 0, 600, 500]}
    steps:                                         # deterministic, no model
      - {action: type, text: "12*34="}
    task: Check the result                         # for the agent, after the steps
    replies: add.replies.jsonl                     # the scripted model for CI
    checks:                                        # the end state, never the agent's claim
      - {check: text_visible, text: "408", window: galculator}
    expect: success                                # or failure: a check must catch a wrong state
    policy: rules.toml                             # the gate's rules; "off": none (default:
                                                   # configs/policy.toml)
    secrets: {PW: stand-in-value}                  # typed as {{secret:PW}}; test values only
    timeout: 60
    retries: 0

Without `desktop:` each run gets a fresh virtual desktop of its own, where `setup.launch` starts
its programs: X (Xvfb + openbox), or with `display: {kind: wayland}` a headless sway whose apps
run natively on Wayland (windows and pixels; no elements, and under root its apps run as a spare
uid that is given the work folder). With `desktop:` the scenario runs on the desktop named, as
`--desktop` names one (a VNC password comes from $DESKPILOT_VNC_PASSWORD); its programs are
already there, so `setup.launch` and `display` are refused. Pixel and OCR steps and checks work
on any desktop; those that need windows (`window:`, `wait_for_window`, `window_title`) or
elements (`click_element`, `wait_for_element`, `element`) fail the run in one line on a desktop
without them (VNC has neither), before anything is done on it; `clipboard` needs an X desktop.
`command` checks and `teardown` run on this machine, with the desktop's environment.

Errors name the file, the line and the field. Paths are relative to the scenario file;
`{workdir}` (the scenario's scratch folder) and `{url}` (the served folder) are filled in
wherever text appears in setup, steps and checks.
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.desktops.open import parse_desktop
from agent.errors import ConfigError
from agent.paths import inside, read_capped, shown
from skills.computer import ACTION_CLASSES

MAX_SCENARIO_BYTES = 1024 * 1024  # a scenario is a page of YAML; /dev/zero is not


class BadDesktop(ConfigError):
    """A scenario's `desktop:` names no desktop: like a bad --desktop, nothing runs (exit 2)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisplaySize(_Strict):
    """The virtual screen: X11 (Xvfb and openbox) or Wayland (a headless sway)."""

    kind: Literal["x11", "wayland"] = "x11"
    width: int = Field(default=1280, ge=320)
    height: int = Field(default=800, ge=240)


class Launch(_Strict):
    """An application to start (a command, or Chromium showing a URL), and where its window goes."""

    argv: list[str] | None = Field(default=None, min_length=1)
    chromium: str | None = None  # a URL: Chromium with the flags a test desktop needs
    wm_class: str | None = None  # find the window by class instead of by process id
    geometry: tuple[int, int, int, int] | None = None  # x, y, width, height
    timeout: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _one_program(self) -> Launch:
        if (self.argv is None) == (self.chromium is None):
            raise ValueError("give either argv (a command) or chromium (a URL)")
        return self


# -- steps: the canonical actions, plus what a test script needs ---------------------------------


class ClickText(_Strict):
    """Click the middle of a phrase found by OCR."""

    action: Literal["click_text"]
    text: str = Field(min_length=1)
    window: str | None = None  # read only this window (class or title): faster and surer
    button: Literal["left", "right", "middle"] = "left"
    clicks: int = Field(default=1, ge=1, le=3)
    timeout: float = Field(default=10.0, gt=0)


class ClickImage(_Strict):
    """Click the middle of a picture found by template matching."""

    action: Literal["click_image"]
    image: Path
    threshold: float = Field(default=0.9, gt=0, le=1)
    button: Literal["left", "right", "middle"] = "left"
    timeout: float = Field(default=10.0, gt=0)


class WaitForText(_Strict):
    """Wait until a phrase is visible (OCR)."""

    action: Literal["wait_for_text"]
    text: str = Field(min_length=1)
    window: str | None = None
    timeout: float = Field(default=10.0, gt=0)


class WaitForImage(_Strict):
    """Wait until a picture is visible (template matching)."""

    action: Literal["wait_for_image"]
    image: Path
    threshold: float = Field(default=0.9, gt=0, le=1)
    timeout: float = Field(default=10.0, gt=0)


class WaitForWindow(_Strict):
    """Wait until a visible window has this title (substring) or class."""

    action: Literal["wait_for_window"]
    title: str | None = None
    wm_class: str | None = None
    timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitForWindow:
        if self.title is None and self.wm_class is None:
            raise ValueError("give title or wm_class")
        return self


class _ElementQuery(_Strict):
    """An element of the accessibility tree: its name and/or role (both exact, any case)."""

    name: str | None = Field(default=None, min_length=1)
    role: str | None = Field(default=None, min_length=1)  # as `deskpilot elements` prints it
    window: str | None = None  # an application's name or part of a window's title
    index: int | None = Field(default=None, ge=0)  # several match: 0 is the first, top-left
    timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _something_to_find(self) -> _ElementQuery:
        if self.name is None and self.role is None:
            raise ValueError("give name or role (or both)")
        return self


class ClickElement(_ElementQuery):
    """Click the middle of an element found in the accessibility tree by name (and role)."""

    action: Literal["click_element"]
    name: str = Field(min_length=1)
    button: Literal["left", "right", "middle"] = "left"
    clicks: int = Field(default=1, ge=1, le=3)


class WaitForElement(_ElementQuery):
    """Wait until an element is in the accessibility tree and visible."""

    action: Literal["wait_for_element"]


SCRIPT_STEPS = (
    ClickText,
    ClickImage,
    WaitForText,
    WaitForImage,
    WaitForWindow,
    ClickElement,
    WaitForElement,
)
# One discriminated union over the canonical actions and the script steps, so a bad step gets
# the errors of its own kind only.
Step = Annotated[Union[(*ACTION_CLASSES, *SCRIPT_STEPS)], Field(discriminator="action")]
Wait = Annotated[
    WaitForText | WaitForImage | WaitForWindow | WaitForElement, Field(discriminator="action")
]


class Setup(_Strict):
    """What is on the desktop before the steps and the task."""

    files: dict[str, str] = {}  # work-folder-relative name -> contents
    serve: Path | None = None  # a folder to serve over HTTP on 127.0.0.1; its URL is {url}
    launch: list[Launch] = []
    waits: list[Wait] = []


# -- checks: the end state, judged without the agent ---------------------------------------------


class TextVisible(_Strict):
    """OCR finds the phrase on screen (or in one window)."""

    check: Literal["text_visible"]
    text: str = Field(min_length=1)
    window: str | None = None


class ImageVisible(_Strict):
    """Template matching finds the picture on screen."""

    check: Literal["image_visible"]
    image: Path
    threshold: float = Field(default=0.9, gt=0, le=1)


class WindowTitle(_Strict):
    """Some visible window's title equals, contains or matches the given text."""

    check: Literal["window_title"]
    equals: str | None = None
    contains: str | None = None
    matches: str | None = None  # a regular expression
    # An application sets its title after it repainted (Chromium: about 0.2 s after the page
    # changed it), so a check run right after the screen settled looks again for this long.
    timeout: float = Field(default=1.0, ge=0)


class FileExists(_Strict):
    """The file exists."""

    check: Literal["file_exists"]
    path: str


class FileEquals(_Strict):
    """The file's contents equal `text` exactly."""

    check: Literal["file_equals"]
    path: str
    text: str


class FileContains(_Strict):
    """The file's contents include `text`."""

    check: Literal["file_contains"]
    path: str
    text: str


class FileMatches(_Strict):
    """The file's contents match the regular expression."""

    check: Literal["file_matches"]
    path: str
    pattern: str


class Command(_Strict):
    """A command run on the desktop exits with `exit_code`, its output as given."""

    check: Literal["command"]
    argv: list[str] = Field(min_length=1)
    exit_code: int = 0
    stdout_contains: str | None = None
    stdout_matches: str | None = None
    timeout: float = Field(default=10.0, gt=0)


class Clipboard(_Strict):
    """The clipboard holds, or includes, the given text."""

    check: Literal["clipboard"]
    equals: str | None = None
    contains: str | None = None


class ElementCheck(_ElementQuery):
    """An element is there and visible, has every state listed and (given `text`) that text."""

    check: Literal["element"]
    states: list[str] = []  # e.g. [checked], as `deskpilot elements` prints them
    text: str | None = None  # its text (its name when it has none), spaces trimmed
    timeout: float = Field(default=0.0, ge=0)  # a check looks once unless given time


Check = Annotated[
    TextVisible
    | ImageVisible
    | WindowTitle
    | FileExists
    | FileEquals
    | FileContains
    | FileMatches
    | Command
    | Clipboard
    | ElementCheck,
    Field(discriminator="check"),
]


class Scenario(_Strict):
    """One scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = []
    display: DisplaySize = DisplaySize()
    # A desktop that is already there, by URL (x11::N, :N, wayland:SOCKET, vnc://HOST:PORT,
    # adb:SERIAL),
    # instead of a fresh virtual one.
    desktop: str | None = Field(default=None, min_length=1)
    setup: Setup = Setup()
    steps: list[Step] = []
    task: str | None = None
    max_steps: int = Field(default=10, ge=1)
    model: str = "demo"  # the model preset for the task (scripted replies unless --live)
    replies: Path | None = None  # scripted model replies (JSONL) for the task
    checks: list[Check] = Field(min_length=1)
    expect: Literal["success", "failure"] = "success"
    # The policy gate's rules for the steps and the agent: a file (relative to the scenario),
    # "off" (no rules: to prove a check catches what the gate would have stopped), or the default.
    policy: Literal["off"] | Path | None = None
    # Secrets the task may type as {{secret:NAME}}: stand-in values for a test, put in the
    # environment of the run (a real value comes from the environment, never a scenario file).
    secrets: dict[str, str] = {}
    teardown: list[list[str]] = []  # commands run at the end, whatever happened
    timeout: float = Field(default=120.0, gt=0)
    retries: int = Field(default=0, ge=0, le=5)

    source: Path = Field(default=Path("scenario.yaml"), exclude=True)

    @model_validator(mode="after")
    def _something_to_do(self) -> Scenario:
        if not self.steps and self.task is None:
            raise ValueError("a scenario needs steps, a task, or both")
        return self

    def resolve(self, relative: Path) -> Path:
        """A path from the scenario file, resolved against the scenario's folder."""
        return relative if relative.is_absolute() else self.source.parent / relative


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; every error names the file, the line and the field."""
    try:
        text = read_capped(path, MAX_SCENARIO_BYTES, "the scenario file").decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as error:  # one such file fails alone; the suite runs the others
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); save the scenario file as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a scenario must be a mapping of fields, e.g. name: ...")
    try:
        scenario = Scenario.model_validate({**data, "source": path})
    except ValidationError as error:
        raise ConfigError(_describe(error, path, root)) from None
    if scenario.desktop is not None:
        try:
            parse_desktop(scenario.desktop)  # what --desktop accepts, no more
        except ConfigError as error:
            line = _locate(root, ["desktop"])[0]
            raise BadDesktop(f"{path}:{line}: desktop: {error}") from None
    problem = _desktop_problem(scenario) or _path_problem(scenario)
    if problem is not None:
        loc, field, message = problem
        raise ConfigError(f"{path}:{_locate(root, loc)[0]}: {field}: {message}")
    return scenario


def _desktop_problem(scenario: Scenario) -> tuple[list[Any], str, str] | None:
    """What is wrong with `desktop:` or beside it: (YAML location, field, what is wrong)."""
    if scenario.desktop is None:
        return None
    if scenario.setup.launch:
        message = "starts programs on a virtual desktop of the scenario's own; with desktop: "
        return ["setup", "launch"], "setup.launch", message + "they must be there already"
    if "display" in scenario.model_fields_set:
        message = "sizes a virtual desktop of the scenario's own; with desktop: the desktop's "
        return ["display"], "display", message + "own size is used"
    return None


def _path_problem(scenario: Scenario) -> tuple[list[Any], str, str] | None:
    """The first path that leads where it may not: (YAML location, field, what is wrong).

    Files the scenario brings (replies, served pages, pictures) must be inside the scenario's
    folder: Ray ships only the folder holding the scenario files to its nodes, so anything else
    works on one machine only, and `serve` publishes a whole folder on a local port, which must
    be the scenario's own pages and not, say, a home folder. Files the run makes or checks
    (setup.files, file checks) must be inside the scratch folder: setup writes them, and a check
    judges what this run produced, not what happens to be elsewhere on the machine.
    """
    made = [(["setup", "files", name], "setup.files", name) for name in scenario.setup.files]
    made += [
        (["checks", i, "path"], f"checks.{i}.path", check.path)
        for i, check in enumerate(scenario.checks)
        if isinstance(check, FileExists | FileEquals | FileContains | FileMatches)
    ]
    for loc, field, name in made:
        if not in_scratch(name):
            message = f"{shown(name)} leads outside the scenario's scratch folder"
            return loc, field, message + "; name a file inside it"
    brought = [(["setup", "serve"], scenario.setup.serve), (["replies"], scenario.replies)]
    brought += [
        (["setup", "waits", i, "image"], w.image) for i, w in _pictures(scenario.setup.waits)
    ]
    brought += [(["steps", i, "image"], step.image) for i, step in _pictures(scenario.steps)]
    brought += [(["checks", i, "image"], check.image) for i, check in _pictures(scenario.checks)]
    folder = scenario.source.parent
    for loc, named in brought:
        if named is not None and inside(folder, named, absolute=True) is None:
            field = ".".join(str(part) for part in loc)
            return loc, field, f"{shown(named)} is outside the scenario's folder {folder.resolve()}"
    return None


def _pictures(items: list[Any]) -> list[tuple[int, Any]]:
    """(index, item) of the steps, waits or checks that name a picture."""
    return [
        (i, item) for i, item in enumerate(items) if isinstance(getattr(item, "image", None), Path)
    ]


def in_scratch(name: str) -> bool:
    """Whether `name` stays inside the scratch folder: relative, and no `..` that climbs out."""
    if not name or "\0" in name or PurePosixPath(name).is_absolute():
        return False
    normal = posixpath.normpath(name)
    return normal not in (".", "..") and not normal.startswith("../")


def _describe(error: ValidationError, path: Path, root: yaml.Node | None) -> str:
    """'file:line: field: problem' for the first problem (and how many more there are)."""
    problems = sorted(
        ((*_locate(root, list(p["loc"])), p["msg"]) for p in error.errors(include_url=False)),
        key=lambda problem: problem[0],
    )
    line, fields, message = problems[0]
    field = ".".join(str(p) for p in fields) or "scenario"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{path}:{line}: {field}: {message}{more}"


def _locate(node: yaml.Node | None, loc: list[Any]) -> tuple[int, list[Any]]:
    """The line (1-based) of the deepest YAML node `loc` reaches, and the parts that name fields.

    pydantic puts a union member's tag (e.g. 'left_click') into the location; it is no key of
    the YAML mapping, so it is skipped.
    """
    line = node.start_mark.line + 1 if node is not None else 1
    fields: list[Any] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                if part == loc[-1]:
                    fields.append(part)  # a missing field: point at its parent
                continue
            key, node = match[0]
            line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(part, str) and part != loc[-1]:
            continue
        fields.append(part)
    return line, fields
