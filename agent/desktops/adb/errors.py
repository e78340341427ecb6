"""What can go wrong with a phone over adb, one clear line each, saying what to do about it."""

from __future__ import annotations

from agent.errors import ActionError, ConfigError, DisplayError


class AdbUrlError(ConfigError):
    """The desktop URL is not adb:, adb:SERIAL or adb:HOST:PORT."""


class AdbError(DisplayError):
    """The phone could not be used over adb."""


class AdbServerUnreachable(AdbError):
    """No adb server answers, and none could be started."""


class AdbNoDevice(AdbError):
    """No phone (or not exactly one) is attached, or the one named is not there."""


class AdbDeviceUnusable(AdbError):
    """The phone is attached but unauthorized or offline: something to do on the phone."""


class AdbConnectFailed(AdbError):
    """`adb connect HOST:PORT` did not connect (refused, unreachable, timed out)."""


class AdbCommandFailed(AdbError):
    """A command on the phone failed, or its output was not what it should be."""


class NotOnAPhone(ActionError):
    """An action a touch screen cannot do (a right click): the model hears it and tries again."""


class NoAdbKeyboard(ActionError):
    """Text beyond ASCII, and the phone has no ADBKeyboard to type it with."""


class UnknownApp(ActionError):
    """open_app named no installed package, or several: the candidates go back to the model."""
