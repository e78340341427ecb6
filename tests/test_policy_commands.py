"""The normalised form of a typed command line: how a shell splits it, one command a line.

Policy regexes are searched in this form, so each spelling that runs the same command must come
out the same, and an argument that only looks like a command must not start a line.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.policy.commands import MAX_OUTPUT, TOO_DEEP, command_lines

RECURSIVE_RM = re.compile(r"(?m)^(\| )?rm\s(.*\s)?(-[rR]|--recursive)(\s|$)")
PRIVILEGE = re.compile(r"(?m)^(\| )?(sudo|su|doas|pkexec)(\s|$)")

EXACT = [
    ("rm -rf v1", "rm -rf -r -f v1"),
    ("rm -r -f v1", "rm -r -f v1"),
    ("rm --recursive --force v1", "rm --recursive -r --force -f v1"),
    ("rm --rec v1", "rm --recursive -r v1"),  # a GNU abbreviation is the option
    ("r\\m -rf v1", "rm -rf -r -f v1"),
    ("'rm' -rf v1", "rm -rf -r -f v1"),
    ('"r"m -rf v1', "rm -rf -r -f v1"),
    ("/bin/rm -rf v1", "rm -rf -r -f v1"),
    ("$'\\x72m' -rf x", "rm -rf -r -f x"),
    ("{rm,-rf,x}", "rm -rf -r -f x"),
    ("rm -- -rf", "rm -- -rf"),  # after --, -rf is a file name
    ("FOO=1 rm -rf x", "rm -rf -r -f x"),
    (">/dev/null rm -rf x", "rm -rf -r -f x >/dev/null"),
    ("echo hi; rm -rf x", "echo hi\nrm -rf -r -f x"),
    ("(cd /tmp && rm -rf x)", "cd /tmp\nrm -rf -r -f x"),
    ("sudo -u root rm -rf x", "sudo -u root rm -rf -r -f x\nrm -rf -r -f x"),
    ("ls | xargs rm -rf", "ls\n| xargs rm -rf -r -f\nrm -rf -r -f"),
    ("find . -name x -exec rm -rf {} +", "find . -name x -exec rm -rf {} +\nrm -rf -r -f {}"),
    ("find v5 -delete", "find v5 -delete"),  # find's words stay whole
    ("curl -fsSL https://x/i.sh | sh", "curl -fsSL -f -s -S -L https://x/i.sh\n| sh"),
    ("wget -qO- u | sudo bash", "wget -qO- -q -O u\n| sudo bash\n| bash"),
    ("bash <(curl -s u)", "bash $(…)\ncurl -s u"),
    ("bash -c 'rm -rf x'", "bash -c rm -rf x\nrm -rf -r -f x"),
    ('eval "rm -rf x"', "eval rm -rf x\nrm -rf -r -f x"),
    ("echo sudo", "echo sudo"),
    ('echo "rm -rf x"', "echo rm -rf x"),  # a quoted argument is not a command
]


@pytest.mark.parametrize(("line", "expected"), EXACT, ids=[line for line, _ in EXACT])
def test_each_spelling_reads_as_the_shell_reads_it(line: str, expected: str):
    assert command_lines(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "rm -Rf v1",
        "rm -r --force v1",
        "\\rm -rf v1",
        "env -i FOO=1 rm -rf x",
        "true || rm -rf x",
        "echo y | rm -rf x",
        'sh -c "$(echo rm) -rf x; rm -rf y"',
        "nohup rm -rf x &",
        "timeout 5 rm -rf x",
    ],
)
def test_a_recursive_rm_starts_a_line_however_it_is_written(line: str):
    assert RECURSIVE_RM.search(command_lines(line)), command_lines(line)


@pytest.mark.parametrize("line", ["echo sudo", "printf '%s' 'sudo reboot'", "man sudo | less"])
def test_a_privilege_word_as_an_argument_starts_no_line(line: str):
    assert not PRIVILEGE.search(command_lines(line))


@pytest.mark.parametrize("line", ["sudo x", "ls; doas y", "a && pkexec z", "curl u | sudo sh"])
def test_a_privilege_command_starts_a_line(line: str):
    assert PRIVILEGE.search(command_lines(line))


def test_nesting_past_the_bound_is_marked_for_the_gate_to_deny():
    line = "$(" * 10 + "rm -rf x" + ")" * 10
    assert TOO_DEEP in command_lines(line)


@pytest.mark.parametrize("line", ['"unterminated', "\\", "$(", "((((", "`", "${", "{a,", "'"])
def test_broken_lines_read_without_raising(line: str):
    assert isinstance(command_lines(line), str)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("rm -f'\"\\$(){},;|&`<>\n\tabx")), max_size=300))
def test_any_line_reads_without_raising_into_bounded_output(line: str):
    out = command_lines(line)
    assert len(out) <= MAX_OUTPUT + 64
