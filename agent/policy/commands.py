"""Placeholder until the normaliser lands."""


def command_lines(line: str) -> str:
    return line
