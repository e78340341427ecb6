"""Which installed package an app name means: the package itself, or the one it ends in."""

from __future__ import annotations

from agent.desktops.adb.errors import UnknownApp

SHOWN = 10


def installed(pm_output: str) -> list[str]:
    """The packages in `pm list packages` output ("package:com.example.notes" lines)."""
    return [
        line.strip()[len("package:") :]
        for line in pm_output.splitlines()
        if line.strip().startswith("package:")
    ]


def pick_package(name: str, packages: list[str]) -> str:
    """The package `name` means: itself, or the one whose last part it is ("Notes": ....notes)."""
    wanted = name.strip()
    if wanted in packages:
        return wanted
    folded = "".join(wanted.split()).casefold()  # "Clock App" may be ...clockapp
    matches = [p for p in packages if p.rpartition(".")[2].casefold() == folded]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownApp(f"{len(matches)} apps are called {wanted[:60]!r}: {_list(matches)}")
    near = [p for p in packages if folded and folded in p.casefold()]
    if near:
        raise UnknownApp(f"no app is called {wanted[:60]!r}; did you mean {_list(near)}")
    raise UnknownApp(
        f"no app is called {wanted[:60]!r}: give a package name installed on the phone"
    )


def _list(packages: list[str]) -> str:
    """At most SHOWN packages, and how many more there are."""
    shown = ", ".join(packages[:SHOWN])
    more = len(packages) - SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "") + "; open one by its package name"
