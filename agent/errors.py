"""The one exception tree of deskpilot, grouped by who is at fault.

    DeskpilotError                    base of everything deskpilot raises on purpose
    ├── ConfigError                   the user's configuration or command line (exit 2)
    ├── DisplayError                  no usable display, or a desktop program is missing (exit 2)
    │   └── NoAccessibility           the desktop has no AT-SPI bus to read elements from
    ├── ToolServerError               an MCP server the task needs did not start (exit 2)
    ├── ModelError                    the model API failed, after retries where they help (exit 3)
    │   ├── ModelConnectionError      the server could not be reached
    │   │   └── ModelTimeout          no answer in time; `phase` says connect, read, write or pool
    │   ├── ModelHTTPError            a non-2xx answer; carries status, error code, body excerpt
    │   │   ├── ModelAuthError        401/403/404: key, permission or model id is wrong
    │   │   ├── RateLimited           429, still there after the retries
    │   │   ├── ServerError           5xx, 408, 409, still there after the retries
    │   │   └── BadRequest            400/413/422: the request itself is wrong
    │   │       ├── ImageTooLarge     → the step re-encodes the screenshot smaller, once
    │   │       ├── ContextTooLong    → the step drops older screenshots, once
    │   │       └── ToolsNotSupported → the run switches to text tool mode
    │   ├── ContentFiltered           moderation refused input or output (any of its 3 shapes)
    │   ├── MalformedResponse         a 2xx answer that is no chat completion, or holds an error
    │   └── IncompleteReply           a stream that ended early, or a reply cut at max_tokens
    ├── ModelMistake                  recoverable: told to the model, which gets another try
    │   ├── ParseError                the reply holds no valid action
    │   │   └── NoCall                no call in any dialect: prose, or nothing
    │   └── ActionError               a valid action that cannot run here (off-screen, unknown key)
    ├── RunStopped                    the run ended without the model finishing (exit 1)
    │   ├── StepLimitReached          max_steps used up
    │   ├── TooManyMistakes           the model kept making mistakes
    │   ├── BudgetExceeded            a limit on time, tokens or cost was reached
    │   ├── StuckInLoop               the same action on an unchanged screen, again and again
    │   ├── TargetNotFound            replay could not find an action's target; nothing was done
    │   ├── ToolServerLost            an MCP server the task needs stopped answering mid-run
    │   └── PolicyStopped             the policy gate stopped the run (exit 4)
    └── ScenarioError                 a scenario's setup or scripted steps failed (exit 1)
        └── StepFailed                text or a picture not found, a window that never came

A ``ModelMistake`` never stops a run by itself: the loop sends its message back to the model.
Every message is written for the person reading it and never contains the API key: the model
client scrubs each error on its way out (message, attributes, chain; agent/redact.py).
"""

from __future__ import annotations


class DeskpilotError(Exception):
    """Base of every error deskpilot raises on purpose."""

    exit_code = 1


class ConfigError(DeskpilotError):
    """The configuration or the command line is wrong."""

    exit_code = 2


class DisplayError(DeskpilotError):
    """No usable display, or a program the desktop needs is missing."""

    exit_code = 2


class WindowsUnreadable(DisplayError):
    """The windows could not be read (no display, a refused connection, an X error)."""


class NoAccessibility(DisplayError):
    """The desktop has no AT-SPI bus (or it does not answer): no elements can be read."""


class ToolServerError(DeskpilotError):
    """An MCP server marked required did not start, or listed no tools in time."""

    exit_code = 2


class ModelError(DeskpilotError):
    """The model API failed, after retries where retrying made sense."""

    exit_code = 3


class ModelConnectionError(ModelError):
    """The server could not be reached, or the connection broke."""


class ModelTimeout(ModelConnectionError):
    """The server did not answer in time during `phase` (connect, read, write or pool)."""

    def __init__(self, message: str, *, phase: str) -> None:
        super().__init__(message)
        self.phase = phase


class ModelHTTPError(ModelError):
    """The server answered with a non-2xx status."""

    def __init__(
        self, message: str, *, status: int, code: str = "", body_excerpt: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body_excerpt = body_excerpt


class ModelAuthError(ModelHTTPError):
    """The key, the permissions or the model id were refused (401/403/404)."""


class RateLimited(ModelHTTPError):
    """429 after every retry (or a Retry-After longer than we wait)."""


class ServerError(ModelHTTPError):
    """5xx, 408 or 409 after every retry."""


class BadRequest(ModelHTTPError):
    """The server refused the request as malformed (400, 413, 422)."""


class ImageTooLarge(BadRequest):
    """The screenshot is over the server's size limit."""


class ContextTooLong(BadRequest):
    """The conversation is over the model's context length."""


class ToolsNotSupported(BadRequest):
    """The model or gateway does not take native `tools`."""


class ContentFiltered(ModelError):
    """Content moderation refused the input or the output."""


class MalformedResponse(ModelError):
    """A 2xx answer that is not a usable chat completion."""


class IncompleteReply(ModelError):
    """The reply ended early: a stream cut off, or output stopped at max_tokens."""


class ModelMistake(DeskpilotError):
    """A recoverable mistake of the model; its message goes back to the model."""

    def __init__(self, message: str, *, call_index: int | None = None) -> None:
        super().__init__(message)
        # Which of the reply's native tool calls was at fault (None: the reply as a whole), so
        # that call gets the error and the others are told they did not run.
        self.call_index = call_index


class ParseError(ModelMistake):
    """The reply holds no valid action; the message says what was wrong and what is allowed."""


class NoCall(ParseError):
    """No call in any dialect (prose, or nothing): the server may have dropped the tools."""


class ActionError(ModelMistake):
    """A well-formed action that cannot be carried out here."""


class RunStopped(DeskpilotError):
    """The run ended without the model finishing the task."""

    exit_code = 1


class StepLimitReached(RunStopped):
    """The run used all of its steps."""


class TooManyMistakes(RunStopped):
    """The model made too many mistakes in a row."""


class BudgetExceeded(RunStopped):
    """A limit on wall time, tokens or cost was reached; `limit` names which."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class StuckInLoop(RunStopped):
    """The model repeated the same action on an unchanged screen, even after a nudge."""


class TargetNotFound(RunStopped):
    """Replay could not find an action's target with enough confidence; nothing was done."""


class ToolServerLost(RunStopped):
    """An MCP server marked required stopped answering during the run."""


class PolicyStopped(RunStopped):
    """The policy gate stopped the run: max_denials denials, or a denied replay or scripted step."""

    exit_code = 4


class ScenarioError(DeskpilotError):
    """A scenario could not be carried out as written (its setup or a scripted step failed)."""

    exit_code = 1


class StepFailed(ScenarioError):
    """A scripted step failed: text or a picture not found, a window that never came."""
