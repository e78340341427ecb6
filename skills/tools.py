"""Tools beside computer_use: a typed Python function the model may call, and the call itself.

    from skills import tool

    @tool
    def send_mail(to: str, subject: str, body: str = "") -> str:
        \"\"\"Send a mail from the user's account.

        Args:
            to: the address to send to
            subject: the subject line
        \"\"\"
        ...
        return "sent"

The function's name, its docstring and its signature are what the model is shown: a pydantic
model is built from the signature (annotations, defaults, the docstring's `Args:` lines as
descriptions) and its JSON schema goes into the request in the model family's own format. The
model's arguments are validated against it before the function runs; what the function returns
(text, JSON-able data, or an image) is what the model reads next; an exception is one line.

Every tool, a function or another MCP server's, is a `ToolSpec` to the parser and the prompt;
a call of one is a `CallTool`, which meets the policy gate like any action.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from skills.computer import Action

# The function-name rule of the providers (OpenAI, DashScope, Anthropic): what a tool may be called.
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_RESULT_CHARS = 20_000  # what the model reads of one result; the rest is cut, and it is told
MAX_ERROR_CHARS = 300
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class ToolFailed(Exception):
    """A tool could not do what it was asked; the one-line message goes back to the model."""


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's parameters; the message names the fields."""


@dataclass(frozen=True, slots=True)
class ToolImage:
    """An image a tool returned, as the model will be shown it."""

    data: bytes
    mime: str = "image/png"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool gave back: text for the model, and images shown beside the next screenshot."""

    text: str
    images: tuple[ToolImage, ...] = ()


class ToolSpec(Protocol):
    """A tool as the parser and the prompt know it: a name, what it does, its parameters."""

    name: str
    description: str
    parameters: dict[str, Any]  # the JSON schema of its arguments: an object

    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments, validated and as JSON; ToolArgumentsError naming what is wrong."""
        ...


class Tool(ToolSpec, Protocol):
    """A tool that can be called."""

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Run the tool with checked arguments; ToolFailed with one line when it fails."""
        ...


class CallTool(BaseModel):
    """A call of one of the run's tools (not computer_use), with its checked arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    terminal: ClassVar[bool] = False
    action: Literal["tool"] = "tool"
    tool: str = Field(pattern=TOOL_NAME.pattern)
    arguments: dict[str, Any] = {}

    def summary(self) -> str:
        """That the tool was called (its result is what the model reads)."""
        return f"{self.tool} called"


# What one step of a run may do: a desktop action or a tool call (trajectories hold both).
StepAction = Annotated[Action | CallTool, Field(discriminator="action")]
STEP_ADAPTER: TypeAdapter[Action | CallTool] = TypeAdapter(StepAction)


class FunctionTool:
    """A Python function as a tool; calling the object calls the function as it was."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.function = function
        self.name = name or function.__name__
        if not TOOL_NAME.fullmatch(self.name):
            raise ValueError(
                f"tool name {self.name!r}: use 1 to 64 letters, digits, _ and - "
                "(the providers' rule for function names)"
            )
        summary, described = _docstring(inspect.getdoc(function) or "")
        self.description = description or summary or self.name.replace("_", " ")
        self.model = _arguments_model(function, self.name, described)
        self.parameters = _schema(self.model)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"

    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments validated by the signature's model, as JSON."""
        try:
            checked = self.model.model_validate(arguments)
        except ValidationError as error:
            raise ToolArgumentsError(explain(error, self.name)) from None
        return checked.model_dump(mode="json")

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Run the function on the arguments, typed as its signature says."""
        try:
            typed = self.model.model_validate(arguments)
        except ValidationError as error:
            raise ToolFailed(explain(error, self.name)) from None
        values = {field: getattr(typed, field) for field in type(typed).model_fields}
        try:
            returned = self.function(**values)
            if inspect.isawaitable(returned):
                returned = _await(returned)
        except ToolFailed:
            raise
        except Exception as error:  # the model hears one line; never a traceback
            raise ToolFailed(one_line(error)) from None
        return as_result(returned)


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Make a typed function a tool the model may call: `@tool` or `@tool(name=..., ...)`."""
    if function is not None:
        return FunctionTool(function, name=name, description=description)
    return lambda given: FunctionTool(given, name=name, description=description)


def as_result(value: Any) -> ToolResult:
    """What a function returned, as the model reads it."""
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult("done")
    if isinstance(value, str):
        return ToolResult(value)
    if isinstance(value, ToolImage):
        return ToolResult("an image (shown with the next screenshot)", (value,))
    if isinstance(value, bytes | bytearray):
        mime = _image_mime(bytes(value))
        if mime is None:
            raise ToolFailed("the tool returned bytes that are neither a PNG nor a JPEG image")
        return as_result(ToolImage(bytes(value), mime))
    if hasattr(value, "save") and hasattr(value, "mode"):  # a Pillow image
        import io

        buffer = io.BytesIO()
        value.save(buffer, "PNG")
        return as_result(ToolImage(buffer.getvalue()))
    if isinstance(value, BaseModel):
        return ToolResult(value.model_dump_json())
    try:
        return ToolResult(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError) as error:
        raise ToolFailed(f"the tool's result cannot be shown to the model: {error}") from None


def explain(error: ValidationError, name: str) -> str:
    """One line naming each bad argument and what was expected."""
    problems = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        problems.append(f"{where}: {' '.join(item['msg'].split())}")
    return f"invalid arguments for {name}: " + "; ".join(problems)


def one_line(error: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    said = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return said if len(said) <= MAX_ERROR_CHARS else said[: MAX_ERROR_CHARS - 1] + "…"


def tool_names(tools: Mapping[str, ToolSpec]) -> str:
    """The tools the model may call, for its error messages."""
    return ", ".join(["computer_use", *tools])


def _arguments_model(function: Callable[..., Any], name: str, described: dict[str, str]) -> Any:
    """A pydantic model of the function's parameters (annotations, defaults, descriptions)."""
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {name}: *args and **kwargs cannot be described to the model")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(f"tool {name}: the model passes arguments by name, not by position")
        annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
        default = ... if parameter.default is parameter.empty else parameter.default
        info = Field(default, description=described.get(parameter.name))
        fields[parameter.name] = (annotation, info)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    title = "".join(part.title() for part in name.replace("-", "_").split("_")) or "Tool"
    return create_model(f"{title}Arguments", __config__=config, **fields)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The arguments' JSON schema without pydantic's titles (tokens the model does not need)."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    for field in schema.get("properties", {}).values():
        field.pop("title", None)
    return schema


def _docstring(text: str) -> tuple[str, dict[str, str]]:
    """The description (text before `Args:`) and each argument's line of a Google docstring."""
    summary: list[str] = []
    described: dict[str, str] = {}
    current = ""
    in_args = False
    for line in text.splitlines():
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if in_args:
            found = _ARG_LINE.match(line)
            if found:
                current = found.group(1)
                described[current] = found.group(2).strip()
            elif line.strip() and current and line.startswith((" ", "\t")):
                described[current] += " " + line.strip()
            elif line.strip():
                in_args = False  # another section (Returns:, Raises:)
            continue
        if not described:
            summary.append(line)
    return "\n".join(summary).strip(), {k: v for k, v in described.items() if v}


def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _await(awaitable: Any) -> Any:
    """The result of an async tool, from a thread that may already run an event loop."""

    import asyncio  # only async tools need it; `deskpilot parse` imports this module

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # A loop runs in this thread (a notebook): the coroutine gets a thread and loop of its own.
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = asyncio.run(wait())
        except BaseException as error:  # handed to the caller's thread as is
            box["error"] = error

    worker = threading.Thread(target=run, name="tool")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
