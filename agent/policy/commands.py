"""A typed shell command line in the normalised form that policy regexes are searched in.

A regex searched in the raw typed text is easy to talk around: `r\\m -rf`, `'rm' -fr`,
`rm -r --force`, `sudo -u root rm`, `sh -c "rm -rf x"`. `command_lines` reads the line the way
bash splits it and writes out every simple command it would run, one per line:

- One line per simple command, in order of appearance, its words joined by single spaces. An
  empty word (`''`) is written `''`; a newline or carriage return inside a word becomes a space.
- A command whose input comes from a pipe (`|`, `|&`) starts with `| `, and so does the command
  that a wrapper in that place runs (`curl u | sudo bash` gives `| sudo bash` and `| bash`),
  except under xargs and watch, whose commands do not read the pipe.
- Quoting is removed: '…', "…" (backslash escapes `$ \\` " \\` and newline), $'…' (ANSI-C
  escapes: `\\x72`, `\\n`, `\\u00e9`, octal, `\\cX`), $"…" and backslashes outside quotes;
  backslash-newline is removed. Unquoted brace expansion is done (`{rm,-rf,x}`, `-{r..r}f`, at
  most MAX_BRACE_WORDS words from one word). Parameter expansions stay as written (`$x`, `${x}`),
  so a command word that is one shows up as a line starting with `$`.
- The command word is reduced to its basename (`/usr/bin/rm` is `rm`). Leading variable
  assignments (`FOO=1`) are dropped, and so are leading reserved words (`! { } if then else elif
  fi do done while until esac coproc`, `function NAME`).
- Redirections are words, written as typed (`>/dev/sda`, `2>&1`, `> /dev/sda` with its one
  space), and moved to the end of their command's line.
- Option words: a word of one `-` followed by two or more ASCII letters or digits is kept and
  followed by each of those characters as a word of its own (`-rf` gives `-rf -r -f`, `-qO-`
  gives `-qO- -q -O`). A long option of a command in LONG_OPTIONS, written in full or as a
  unique GNU abbreviation, is spelled out and followed by its short form if it has one
  (`--rec` gives `--recursive -r`). `--` ends the options: later words are kept as they are.
  `find` keeps its single-dash words (`-delete`, `-exec`) whole.
- Separators `;` `&&` `||` `&` `|` `|&` newline (and a typed carriage return, which a terminal
  takes as Enter) `(` `)` end a command; so does a comment (`#` at the start of a word).
- `$(…)`, backticks, `<(…)` and `>(…)` are parsed as commands of their own. In the word that
  holds one it is written `$(…)` literally, and its lines follow the lines of that command.
- Commands that run other commands get further lines, each right after the line it comes from:
  a wrapper in WRAPPERS (`sudo`, `env`, `xargs`, `timeout`, …) is followed by the command it
  runs, without the wrapper's options and operands; `sh|bash|dash|zsh|ksh|ash|mksh|fish -c
  STRING`, `eval ARGS`, `su -c STRING`, `env -S STRING` and `watch ARGS` by the lines of that
  text parsed as commands; `find … -exec|-execdir|-ok|-okdir CMD … ;` (or `{} +`) by CMD.

Bounds: substitutions and command strings nest at most MAX_DEPTH levels and wrappers at most
MAX_WRAPPERS; what lies deeper is not read and leaves the line TOO_DEEP. The output holds at
most MAX_OUTPUT characters; when more would follow, the last line is TRUNCATED. A gate can deny
either marker. Here-document bodies are read as commands, whatever command reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice, pairwise

MAX_DEPTH = 4
MAX_WRAPPERS = 8
MAX_OUTPUT = 64 * 1024
MAX_BRACE_WORDS = 64
_MAX_PARAMETERS = 8  # `${…}` nested in `${…}`: deeper ones are read as plain text
_MAX_BRACE_NESTING = 16  # `{a,{b,{c,…}}}`: deeper groups stay as written
SUBSTITUTION = "$(…)"
TOO_DEEP = "#too-deep"
TRUNCATED = "#truncated"

# Unquoted braces and commas are kept as private-use sentinels until brace expansion, so that a
# quoted or escaped `{` stays literal. The same code points in the input are replaced first.
_OPEN, _COMMA, _CLOSE = "\ue000", "\ue001", "\ue002"
_SENTINEL = {"{": _OPEN, ",": _COMMA, "}": _CLOSE}
_LITERAL = str.maketrans({_OPEN: "{", _COMMA: ",", _CLOSE: "}"})
_CLEAN = str.maketrans({"\0": None, _OPEN: "\ufffd", _COMMA: "\ufffd", _CLOSE: "\ufffd"})
_ONE_LINE = str.maketrans({"\n": " ", "\r": " "})

_OPERATOR_CHARS = frozenset(";&|()\n\r")
_OPERATOR = re.compile(r";;&|;;|;&|;|&&|&|\|\||\|&|\||\(|\)|\n|\r")
_PLAIN = re.compile(r"[^ \t\n\r;&|()<>\\'\"$`{,}]+")
_SIMPLE_WORD = re.compile(r"[^ \t\n\r;&|()<>\\'\"$`{,}]+(?=[ \t\n\r;&|()]|\Z)")
_DOUBLE_PLAIN = re.compile(r"[^\"\\$`]+")
_PARAMETER_PLAIN = re.compile(r"[^}\\'\"$`]+")
_COMMENT = re.compile(r"[^\n\r]*")
_REDIRECT = re.compile(r"(?:\d+|\{[A-Za-z_]\w*\})?(?:&>>|&>|>>|>&|>\||<<<|<<-|<<|<>|<&|<|>)")
_ANSI_BODY = re.compile(r"(?:[^'\\]|\\.?)*", re.DOTALL)
_ANSI_ESCAPE = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.|$)", re.DOTALL
)
# fmt: off
_ANSI_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
    "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}
# fmt: on
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_CLUSTER = re.compile(r"-([A-Za-z0-9]{2,})")
_SENTINELS = re.compile(f"[{_OPEN}{_COMMA}{_CLOSE}]")
_SEQUENCE = re.compile(r"(-?\d{1,9}|[A-Za-z])\.\.(-?\d{1,9}|[A-Za-z])(?:\.\.(-?\d{1,9}))?")

# fmt: off
_RESERVED = frozenset([
    "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac",
    "coproc",
])
# fmt: on
_SHELLS = frozenset(["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish"])
_FIND_EXEC = frozenset(("-exec", "-execdir", "-ok", "-okdir"))

# Long options per command, each with its short form ("" when none is emitted). A command's
# table lists every long option that shares a first letter with a mapped one, so that "unique
# abbreviation" means what it means to the command itself.
# fmt: off
LONG_OPTIONS: dict[str, dict[str, str]] = {
    "rm": {
        "recursive": "-r", "force": "-f", "dir": "-d", "interactive": "",
        "one-file-system": "", "no-preserve-root": "", "preserve-root": "", "verbose": "",
        "help": "", "version": "",
    },
    "cp": {
        "recursive": "-r", "force": "-f", "archive": "", "attributes-only": "", "backup": "",
        "context": "", "copy-contents": "", "debug": "", "dereference": "", "help": "",
        "interactive": "", "keep-directory-symlink": "", "link": "", "no-clobber": "",
        "no-dereference": "", "no-preserve": "", "no-target-directory": "",
        "one-file-system": "", "parents": "", "preserve": "", "reflink": "",
        "remove-destination": "", "sparse": "", "strip-trailing-slashes": "", "suffix": "",
        "symbolic-link": "", "target-directory": "", "update": "", "verbose": "", "version": "",
    },
    "shred": {
        "remove": "-u", "zero": "-z", "force": "-f", "exact": "", "help": "", "iterations": "",
        "random-source": "", "size": "", "verbose": "", "version": "",
    },
    "curl": {
        "silent": "-s", "location": "-L", "output": "-o", "libcurl": "", "limit-rate": "",
        "list-only": "", "local-port": "", "location-trusted": "", "login-options": "",
        "oauth2-bearer": "", "out-null": "", "output-dir": "", "sasl-authzid": "",
        "sasl-ir": "", "service-name": "", "show-error": "", "show-headers": "",
        "skip-existing": "", "socks4": "", "socks4a": "", "socks5": "", "socks5-basic": "",
        "socks5-gssapi": "", "socks5-gssapi-nec": "", "socks5-gssapi-service": "",
        "socks5-hostname": "", "speed-limit": "", "speed-time": "", "ssl": "",
        "ssl-allow-beast": "", "ssl-auto-client-cert": "", "ssl-no-revoke": "", "ssl-reqd": "",
        "ssl-revoke-best-effort": "", "ssl-sessions": "", "sslv2": "", "sslv3": "",
        "stderr": "", "styled-output": "", "suppress-connect-headers": "",
    },
    "wget": {"output-document": "-O", "quiet": "-q", "output-file": "", "quota": ""},
}
_OWNERSHIP = {
    "recursive": "-R", "changes": "", "dereference": "", "from": "", "help": "",
    "no-dereference": "", "no-preserve-root": "", "preserve-root": "", "quiet": "",
    "reference": "", "silent": "", "verbose": "", "version": "",
}
# fmt: on
LONG_OPTIONS.update({"chmod": _OWNERSHIP, "chown": _OWNERSHIP, "chgrp": _OWNERSHIP})


@dataclass(frozen=True, slots=True)
class Wrapper:
    """How a command that runs another command takes it."""

    short: str = ""  # short options that take an argument
    long: tuple[str, ...] = ()  # long options that take an argument
    operands: int = 0  # operands before the command: timeout's duration, chroot's new root
    strings: str = ""  # short options whose argument is command text (su -c, env -S)
    long_strings: tuple[str, ...] = ()
    lone_dash: bool = False  # a bare `-` is an option (env -, su -)
    permute: bool = False  # options may follow operands, and no operand is a command (su)
    joined: bool = False  # the operands are joined into text for `sh -c` (watch)
    piped: bool = True  # the command reads the wrapper's standard input


# fmt: off
WRAPPERS: dict[str, Wrapper] = {
    "sudo": Wrapper(
        "CDgpRrTtUu",
        ("auth-type", "chdir", "chroot", "close-from", "command-timeout", "group", "host",
         "login-class", "other-user", "prompt", "role", "type", "user"),
    ),
    "su": Wrapper(
        "gGsw", ("group", "shell", "supp-group", "whitelist-environment"), strings="c",
        long_strings=("command", "session-command"), lone_dash=True, permute=True,
    ),
    "doas": Wrapper("Cu"),
    "pkexec": Wrapper(long=("user",)),
    "env": Wrapper(
        "aCu", ("argv0", "chdir", "unset"), strings="S", long_strings=("split-string",),
        lone_dash=True,
    ),
    "command": Wrapper(),
    "builtin": Wrapper(),
    "exec": Wrapper("a"),
    "nohup": Wrapper(),
    "time": Wrapper("fo", ("format", "output")),
    "nice": Wrapper("n", ("adjustment",)),
    "ionice": Wrapper("cnpPu", ("class", "classdata", "pgid", "pid", "uid")),
    "stdbuf": Wrapper("ioe", ("error", "input", "output")),
    "timeout": Wrapper("ks", ("kill-after", "signal"), operands=1),
    "setsid": Wrapper(),
    "xargs": Wrapper(
        "adEILnPs",
        ("arg-file", "delimiter", "max-args", "max-chars", "max-procs", "process-slot-var"),
        piped=False,
    ),
    "busybox": Wrapper(),
    "chroot": Wrapper(long=("groups", "userspec"), operands=1),
    "watch": Wrapper("nqs", ("equexit", "interval", "shotsdir"), joined=True, piped=False),
}
# fmt: on


def command_lines(line: str) -> str:
    """The normalised form of one typed command line: one simple command per output line."""
    out = _Lines(_Budget(MAX_OUTPUT - len(TRUNCATED) - 1))
    _parse(line.translate(_CLEAN), 0, out)
    return out.text()


class _Budget:
    """Characters of output left, shared by every collector of one call."""

    def __init__(self, left: int) -> None:
        self.left = left


class _Lines:
    """Output lines, dropped once the shared budget is spent."""

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.lines: list[str] = []

    @property
    def full(self) -> bool:
        return self.budget.left < 0

    def add(self, line: str) -> None:
        if self.full:
            return
        self.budget.left -= len(line) + 1
        if not self.full:
            self.lines.append(line)

    def child(self) -> _Lines:
        return _Lines(self.budget)

    def extend(self, other: _Lines) -> None:
        self.lines.extend(other.lines)  # already counted against the budget
        other.lines = []

    def text(self) -> str:
        return "\n".join([*self.lines, TRUNCATED] if self.full else self.lines)


def _parse(text: str, depth: int, out: _Lines) -> None:
    """Adds the lines of `text` read as commands, unless that nests deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        out.add(TOO_DEEP)
        return
    _Reader(text, 0, depth, out).commands(nested=False)


class _Reader:
    """Reads shell text into simple commands; each finished command is normalised into `out`."""

    def __init__(self, text: str, pos: int, depth: int, out: _Lines) -> None:
        self.text = text
        self.pos = pos
        self.depth = depth
        self.out = out
        self.subs = out.child()  # lines of the substitutions in the command being read
        self.args: list[str] = []  # the words of the command being read
        self.redirects: list[str] = []  # and its redirections
        self.parameters = 0  # `${…}` nesting, bounded so that `${${${…` cannot recurse deeply

    def commands(self, nested: bool) -> None:
        """Reads commands to the end of the text, or when `nested` to the `)` that closes it."""
        text = self.text
        piped = False
        parens = 0
        while self.pos < len(text) and not self.out.full:
            char = text[self.pos]
            if char in " \t":
                self.pos += 1
            elif char == "#":
                self.pos = _COMMENT.match(text, self.pos).end()
            elif char in _OPERATOR_CHARS and not text.startswith("&>", self.pos):
                operator = self._operator()
                self._finish(piped)
                if operator == "(":
                    parens += 1  # a subshell or group: a command in it still reads the pipe
                elif operator == ")":
                    piped = False
                    if parens:
                        parens -= 1
                    elif nested:
                        return
                else:
                    piped = operator in ("|", "|&")
            else:
                self._word()
        self._finish(piped)

    def _operator(self) -> str:
        match = _OPERATOR.match(self.text, self.pos)
        assert match is not None  # the caller saw one of _OPERATOR_CHARS
        self.pos = match.end()
        return match.group()

    def _finish(self, piped: bool) -> None:
        if self.args or self.redirects:
            _argv(self.args, piped, self.depth, self.out, 0, self.redirects)
            self.args, self.redirects = [], []
        self.out.extend(self.subs)

    def _word(self) -> None:
        """Reads one word, or one redirection with its target, at the current position."""
        text, start = self.text, self.pos
        simple = _SIMPLE_WORD.match(text, start)
        if simple:  # the common case, a word with nothing to remove or expand
            self.args.append(simple.group())
            self.pos = simple.end()
            return
        redirect = None
        if not text.startswith(("<(", ">("), start):
            redirect = _REDIRECT.match(text, start)
        if redirect:
            self.pos = redirect.end()
            target, _ = self._chars()
            if not target:  # `> file`: the target is the next word
                while self.pos < len(text) and text[self.pos] in " \t":
                    self.pos += 1
                target, _ = self._chars()
                target = " " + target if target else ""
            self.redirects.append(redirect.group() + target.translate(_LITERAL))
            return
        raw, quoted = self._chars()
        if self.pos == start:
            self.pos += 1  # cannot happen with the callers' checks; guarantees progress anyway
        if raw or quoted:  # not, e.g., a lone backslash at the end
            self.args.extend(_expand_braces(raw))

    def _chars(self) -> tuple[str, bool]:
        """Reads a word up to a metacharacter, quotes removed; whether any part was quoted."""
        text, buf, quoted = self.text, [], False
        while self.pos < len(text):
            plain = _PLAIN.match(text, self.pos)
            if plain:
                buf.append(plain.group())
                self.pos = plain.end()
                continue
            char = text[self.pos]
            after = text[self.pos + 1 : self.pos + 2]
            if char in " \t\n\r;&|()":
                break
            if char in "<>":
                if after != "(":
                    break
                buf.append(self._substitution(self.pos + 2))
            elif char == "\\":
                buf.append(self._escaped())
            elif char == "'":
                quoted = True
                buf.append(self._single())
            elif char == '"':
                quoted = True
                buf.append(self._double())
            elif char == "$":
                quoted = quoted or after in ("'", '"')
                buf.append(self._dollar(in_double=False))
            elif char == "`":
                buf.append(self._backtick())
            else:
                buf.append(_SENTINEL[char])
                self.pos += 1
        return "".join(buf), quoted

    def _escaped(self) -> str:
        """A backslash outside quotes: the next character, or nothing for a line continuation."""
        text, pos = self.text, self.pos
        for continuation in ("\\\r\n", "\\\n", "\\\r"):
            if text.startswith(continuation, pos):
                self.pos += len(continuation)
                return ""
        self.pos += 2
        return text[pos + 1 : pos + 2]

    def _single(self) -> str:
        end = self.text.find("'", self.pos + 1)
        end = len(self.text) if end < 0 else end
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def _double(self) -> str:
        """A double-quoted string from its opening quote; an unterminated one runs to the end."""
        text, buf = self.text, []
        self.pos += 1
        while self.pos < len(text):
            plain = _DOUBLE_PLAIN.match(text, self.pos)
            if plain:
                buf.append(plain.group())
                self.pos = plain.end()
                continue
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                break
            if char == "\\":
                after = text[self.pos + 1 : self.pos + 2]
                if after and after in '$`"\\':
                    buf.append(after)
                elif after != "\n":
                    buf.append("\\" + after)
                self.pos += 2
            elif char == "$":
                buf.append(self._dollar(in_double=True))
            else:
                buf.append(self._backtick())
        return "".join(buf)

    def _dollar(self, in_double: bool) -> str:
        text, pos = self.text, self.pos
        after = text[pos + 1 : pos + 2]
        if text.startswith(SUBSTITUTION, pos):  # a placeholder from an outer reading
            self.pos += len(SUBSTITUTION)
            return SUBSTITUTION
        if after == "(":
            return self._substitution(pos + 2)
        if after == "{" and self.parameters < _MAX_PARAMETERS:
            return self._parameter()
        if after == "'" and not in_double:
            body = _ANSI_BODY.match(text, pos + 2)
            assert body is not None  # the pattern matches the empty string
            self.pos = body.end() + 1
            return _ANSI_ESCAPE.sub(_ansi_char, body.group())
        if after == '"' and not in_double:
            self.pos += 1
            return self._double()
        self.pos += 1
        return "$"

    def _parameter(self) -> str:
        """`${…}` as written, with the quotes and substitutions inside it processed."""
        text, buf = self.text, ["${"]
        self.parameters += 1
        self.pos += 2
        while self.pos < len(text):
            plain = _PARAMETER_PLAIN.match(text, self.pos)
            if plain:
                buf.append(plain.group())
                self.pos = plain.end()
                continue
            char = text[self.pos]
            if char == "}":
                buf.append("}")
                self.pos += 1
                break
            if char == "\\":
                buf.append(text[self.pos + 1 : self.pos + 2])
                self.pos += 2
            elif char == "'":
                buf.append(self._single())
            elif char == '"':
                buf.append(self._double())
            elif char == "$":
                buf.append(self._dollar(in_double=True))
            else:
                buf.append(self._backtick())
        self.parameters -= 1
        return "".join(buf)

    def _substitution(self, start: int) -> str:
        """`$(…)`, `<(…)` or `>(…)` from just inside its parenthesis: its lines go to subs."""
        if self.depth + 1 > MAX_DEPTH:
            self.pos = _skip_group(self.text, start)
            self.subs.add(TOO_DEEP)
        else:
            inner = _Reader(self.text, start, self.depth + 1, self.subs)
            inner.commands(nested=True)
            self.pos = inner.pos
        return SUBSTITUTION

    def _backtick(self) -> str:
        """A backtick substitution: its text, unescaped, is parsed on its own."""
        text, buf = self.text, []
        pos = self.pos + 1
        while pos < len(text) and text[pos] != "`":
            if text[pos] == "\\" and text[pos + 1 : pos + 2] in ("`", "\\", "$"):
                pos += 1
            buf.append(text[pos])
            pos += 1
        self.pos = pos + 1
        _parse("".join(buf), self.depth + 1, self.subs)
        return SUBSTITUTION


def _skip_group(text: str, pos: int) -> int:
    """The position after the `)` that closes a group opened just before `pos`, or the end."""
    level = 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 1
        elif char in "'\"":
            pos = _quote_end(text, pos)
            continue
        elif char == "(":
            level += 1
        elif char == ")":
            level -= 1
            if not level:
                return pos + 1
        pos += 1
    return len(text)


def _quote_end(text: str, pos: int) -> int:
    """The position after the quote that closes the one at `pos`, or the end."""
    quote = text[pos]
    pos += 1
    while pos < len(text) and text[pos] != quote:
        pos += 2 if quote == '"' and text[pos] == "\\" else 1
    return min(pos + 1, len(text))


def _ansi_char(match: re.Match[str]) -> str:
    escape = match.group(1)
    kind = escape[:1]
    if kind in ("x", "u", "U") and len(escape) > 1:
        return _char(int(escape[1:], 16))
    if kind and kind in "01234567":
        return _char(int(escape, 8))
    if kind == "c" and len(escape) == 2:
        return _char(ord(escape[1]) & 0x1F)
    return _ANSI_SIMPLE.get(kind, "\\" + kind)


def _char(code: int) -> str:
    # bash ends a $'…' string at NUL; dropping it is close enough. Surrogates and the sentinels
    # would be a different character, or no character, to everything downstream.
    if code == 0:
        return ""
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or chr(code) in _SENTINEL.values():
        return "\ufffd"
    return chr(code)


def _expand_braces(raw: str) -> list[str]:
    """The words an unquoted brace expression expands to, at most MAX_BRACE_WORDS of them."""
    if _OPEN not in raw:
        return [raw.translate(_LITERAL)]
    return [word.translate(_LITERAL) for word in _braces(raw, 0)]


def _braces(word: str, level: int) -> list[str]:
    # bash's order: the product of the top-level groups, left to right, each alternative
    # expanded in turn. Expansion stops once the words could not fit in the output anyway.
    words = [""]
    done = 0
    for start, end, commas, items in _groups(word) if level < _MAX_BRACE_NESTING else []:
        if items is None:
            cuts = [start, *commas, end]
            items = [word[a + 1 : b] for a, b in pairwise(cuts)]
        heads = (word[done:start] + head for item in items for head in _braces(item, level + 1))
        first = list(islice(heads, MAX_BRACE_WORDS))
        words = list(islice((word + head for word in words for head in first), MAX_BRACE_WORDS))
        done = end + 1
        if sum(map(len, words)) > MAX_OUTPUT:
            break
    return [expanded + word[done:] for expanded in words]


_Group = tuple[int, int, list[int], list[str] | None]  # start, end, commas, sequence items


def _groups(word: str) -> list[_Group]:
    """The brace groups of `word` that expand and are not inside another one that does."""
    stack: list[tuple[int, list[int]]] = []
    found: list[_Group] = []
    for match in _SENTINELS.finditer(word):
        pos, sentinel = match.start(), match.group()
        if sentinel == _OPEN:
            stack.append((pos, []))
        elif sentinel == _COMMA:
            if stack:
                stack[-1][1].append(pos)
        elif stack:
            start, commas = stack.pop()
            items = None if commas else _sequence(word, start, pos)
            if commas or items is not None:
                found.append((start, pos, commas, items))
    found.sort(key=lambda group: group[0])  # a group closes after those inside it
    top: list[_Group] = []
    for group in found:
        if not top or group[0] > top[-1][1]:
            top.append(group)
    return top


def _sequence(word: str, start: int, end: int) -> list[str] | None:
    """The items of `{1..5}`, `{a..e}` or `{10..1..3}` between `start` and `end`, if it is one."""
    sequence = _SEQUENCE.fullmatch(word, start + 1, end)
    if sequence is None:
        return None
    first, last, step = sequence.groups()
    numbers = first.lstrip("-").isdigit()
    if numbers != last.lstrip("-").isdigit():
        return None
    a, b = (int(first), int(last)) if numbers else (ord(first), ord(last))
    stride = abs(int(step or 1)) or 1
    items = range(a, b + 1, stride) if a <= b else range(a, b - 1, -stride)
    return [str(item) if numbers else chr(item) for item in islice(items, MAX_BRACE_WORDS)]


def _argv(
    args: list[str],
    piped: bool,
    depth: int,
    out: _Lines,
    hops: int,
    redirects: list[str] | None = None,
) -> None:
    """Adds the line of one simple command given as its words, then the commands it runs."""
    if hops > MAX_WRAPPERS:
        out.add(TOO_DEEP)
        return
    args = args[_command_start(args) :]
    redirects = redirects or []
    prefix = "| " if piped else ""
    if not args:
        if redirects:
            out.add(prefix + _join(redirects))
        return
    name = args[0].rsplit("/", 1)[-1] or args[0]
    out.add(prefix + _join([name, *_options(name, args[1:]), *redirects]))
    _runs(name, args[1:], piped, depth, out, hops)


def _command_start(args: list[str]) -> int:
    """The index of the command word: after assignments and reserved words."""
    index = 0
    while index < len(args):
        word = args[index]
        if word in _RESERVED or _ASSIGNMENT.match(word):
            index += 1
        elif word == "function":
            index += 2
        else:
            break
    return index


def _join(words: list[str]) -> str:
    return " ".join([word or "''" for word in words]).translate(_ONE_LINE)


def _options(name: str, words: list[str]) -> list[str]:
    """The words after the command word, option clusters split and long options spelled out."""
    if name == "find":
        return list(words)
    longs = LONG_OPTIONS.get(name, {})
    out: list[str] = []
    for index, word in enumerate(words):
        if word == "--":
            out.extend(words[index:])
            break
        if word.startswith("--"):
            out.extend(_long_option(word, longs))
            continue
        out.append(word)
        cluster = _CLUSTER.match(word)
        if cluster:
            out.extend("-" + letter for letter in cluster.group(1))
    return out


def _long_option(word: str, longs: dict[str, str]) -> list[str]:
    name, equals, value = word[2:].partition("=")
    full = _resolve(name, longs)
    if full is None:
        return [word]
    spelled = f"--{full}{equals}{value}"
    return [spelled, longs[full]] if longs[full] else [spelled]


def _resolve(name: str, names: dict[str, str] | tuple[str, ...]) -> str | None:
    """The option `name` stands for: itself, or the one option it is a unique prefix of."""
    if name in names:
        return name
    hits = [option for option in names if name and option.startswith(name)]
    return hits[0] if len(hits) == 1 else None


def _runs(name: str, args: list[str], piped: bool, depth: int, out: _Lines, hops: int) -> None:
    """Adds the lines of the commands that command `name` runs with arguments `args`."""
    if name in WRAPPERS:
        _unwrap(WRAPPERS[name], args, piped, depth, out, hops)
    elif name in _SHELLS:
        script = _shell_script(args)
        if script is not None:
            _parse(script, depth + 1, out)
    elif name == "eval":
        _parse(" ".join(args), depth + 1, out)
    elif name == "find":
        for command in _exec_commands(args):
            _argv(command, False, depth, out, hops + 1)


def _unwrap(
    spec: Wrapper, args: list[str], piped: bool, depth: int, out: _Lines, hops: int
) -> None:
    start, strings = _skip_options(spec, args)
    rest = args[start + spec.operands :]
    if strings:  # su -c STRING, env -S STRING [ARGS]
        _parse(" ".join([*strings, *rest]), depth + 1, out)
    elif spec.joined:
        _parse(" ".join(rest), depth + 1, out)
    elif rest:
        _argv(rest, piped and spec.piped, depth, out, hops + 1)


def _skip_options(spec: Wrapper, args: list[str]) -> tuple[int, list[str]]:
    """Where the wrapped command starts in `args`, and the command-text option arguments."""
    strings: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        following = args[index + 1] if index + 1 < len(args) else ""
        if word == "--":
            return index + 1, strings
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            full = _resolve(name, spec.long + spec.long_strings)
            if full is not None and not equals:
                value = following
                index += 1
            if full in spec.long_strings:
                strings.append(value)
        elif word.startswith("-") and (len(word) > 1 or spec.lone_dash):
            index += _short_options(spec, word, following, strings)
        elif not spec.permute:
            break
        index += 1
    return index, strings


def _short_options(spec: Wrapper, word: str, following: str, strings: list[str]) -> int:
    """How many words after `word` its options take as an argument (0 or 1)."""
    for position, letter in enumerate(word[1:], 2):
        if letter in spec.short or letter in spec.strings:
            value = word[position:] or following
            if letter in spec.strings:
                strings.append(value)
            return 0 if word[position:] else 1
    return 0


def _shell_script(args: list[str]) -> str | None:
    """The command text of `sh -c TEXT` and its kin, or None when there is no -c."""
    command = False
    index = 0
    while index < len(args):
        word = args[index]
        if word in ("--", "-"):
            index += 1
            break
        if word.startswith("--command="):  # fish
            return word.partition("=")[2]
        if word.startswith("--"):
            index += 2 if word in ("--rcfile", "--init-file") else 1
        elif len(word) > 1 and word[0] in "-+":
            command = command or (word[0] == "-" and "c" in word)
            index += 2 if "o" in word or "O" in word else 1
        else:
            break
    return args[index] if command and index < len(args) else None


def _exec_commands(args: list[str]) -> list[list[str]]:
    """The commands of find's -exec, -execdir, -ok and -okdir actions."""
    commands = []
    index = 0
    while index < len(args):
        if args[index] not in _FIND_EXEC:
            index += 1
            continue
        end = index + 1
        while end < len(args) and args[end] != ";":
            if args[end] == "+" and args[end - 1] == "{}":
                break
            end += 1
        commands.append(args[index + 1 : end])
        index = end + 1
    return commands
