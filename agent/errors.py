"""The one exception tree of deskpilot, grouped by who is at fault.

    DeskpilotError                    base of everything deskpilot raises on purpose
    ├── ConfigError                   the user's configuration or command line (exit 2)
    ├── DisplayError                  no usable display, or a desktop program is missing (exit 2)
    ├── ModelError                    the model API failed after retries (exit 3)
    │   ├── ModelConnectionError      connect/read/write failure or timeout
    │   ├── ModelHTTPError            a non-2xx answer; carries status and a short body excerpt
    │   │   └── ModelAuthError        401/403/404: key, permission or model id is wrong
    │   └── MalformedResponse         a 2xx answer that is no chat completion, or holds an error
    ├── ModelMistake                  recoverable: told to the model, which gets another try
    │   ├── ParseError                the reply holds no valid action
    │   └── ActionError               a valid action that cannot run here (off-screen, unknown key)
    └── RunStopped                    the run ended without the model finishing (exit 1)
        ├── StepLimitReached          max_steps used up
        └── TooManyMistakes           the model kept making mistakes

A ``ModelMistake`` never stops a run by itself: the loop sends its message back to the model.
Every message is written for the person reading it and never contains the API key.
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


class ModelError(DeskpilotError):
    """The model API failed, after retries where retrying made sense."""

    exit_code = 3


class ModelConnectionError(ModelError):
    """The server could not be reached or did not answer in time."""


class ModelHTTPError(ModelError):
    """The server answered with a non-2xx status."""

    def __init__(self, message: str, *, status: int, body_excerpt: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body_excerpt = body_excerpt


class ModelAuthError(ModelHTTPError):
    """The key, the permissions or the model id were refused (401/403/404)."""


class MalformedResponse(ModelError):
    """A 2xx answer that is not a usable chat completion."""


class ModelMistake(DeskpilotError):
    """A recoverable mistake of the model; its message goes back to the model."""


class ParseError(ModelMistake):
    """The reply holds no valid action; the message says what was wrong and what is allowed."""


class ActionError(ModelMistake):
    """A well-formed action that cannot be carried out here."""


class RunStopped(DeskpilotError):
    """The run ended without the model finishing the task."""

    exit_code = 1


class StepLimitReached(RunStopped):
    """The run used all of its steps."""


class TooManyMistakes(RunStopped):
    """The model made too many mistakes in a row."""
