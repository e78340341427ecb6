"""The `deskpilot` command: argument parsing and what a person sees while it runs.

`main` builds the parser and dispatches; `replay` holds record, replay and report; `testing`
holds `deskpilot test`; `demo` runs the bundled scenario; `progress` prints steps and outcomes.
Nothing below this wing imports from it: the library works without the command line.
"""
