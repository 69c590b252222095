#!/usr/bin/env python3
"""Checks a program's man page against its command line, both ways.

    check_cli_man.py PROGRAM PAGE        e.g.  build/mtastsctl man/mtastsctl.8

The command line is read from the program itself: `PROGRAM --help`, then
`PROGRAM CMD... --help` for every command listed under "Subcommands:" (CLI11's
help format: "Options:", "Positionals:" and "Subcommands:" groups, one entry per
line indented by two spaces). The page must follow this convention (stated in
its header comment too):

  - OPTIONS: each option of the program itself is a .TP entry whose tag line
    starts with the option, e.g. `.BR \\-c ", " \\-\\-config " \\fIfile\\fP"`,
    `.BI \\-\\-state\\-dir " dir"`, `.B \\-\\-version`; every name (-c and --config)
    must be there. .TP entries whose tag does not start with "-" are no options.
  - COMMANDS: each command that has no subcommands of its own (or has options)
    is an .SS titled with its words alone (`.SS "cache show"`); each of its
    options is a .TP entry below it, as above. Lists between .RS and .RE are
    not looked at.
  - SYNOPSIS: each such command has a .SY block whose first .B line names it
    (`.B cache show`; none for a program without commands) and that names each
    of its options (one name of it suffices), and no other option.
  - -h, --help is documented once, under OPTIONS; commands need not repeat it.

Every mismatch is printed, naming the command and the side it is missing on;
the exit status is 1 if there is any, else 0.
Limits: only the man(7) requests named here are read; roff escapes are decoded
as far as names need it (\\-, \\fX, \\(dq, \\e, \\&, \\c); the help text must be
CLI11's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HELP_NAMES = frozenset({"-h", "--help"})
OPTION_NAME = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9-]*")
# An option in running text: not part of a longer word ("dane-only") or path.
OPTION_IN_TEXT = re.compile(r"(?<![\w/.-])(--?[A-Za-z][A-Za-z0-9-]*)")
HELP_TIMEOUT_SECONDS = 10  # --help prints and exits at once


# ---------------------------------------------------------------- the program


@dataclass
class Command:
    path: tuple[str, ...]  # () for the program itself
    options: set[frozenset[str]] = field(default_factory=set)  # each option: its names
    subcommands: list[str] = field(default_factory=list)

    def name(self, program: str) -> str:
        return " ".join((program,) + self.path)

    def option_names(self) -> set[str]:
        return {n for option in self.options for n in option} - HELP_NAMES


def parse_help(text: str) -> tuple[set[frozenset[str]], list[str]]:
    """The options (name sets) and subcommand names of one CLI11 help text."""
    options: set[frozenset[str]] = set()
    subcommands: list[str] = []
    group = ""
    for line in text.splitlines():
        heading = re.fullmatch(r"(\S[^:]*):", line)
        if heading:
            group = heading.group(1)
            continue
        entry = re.match(r"  (\S+)", line)
        if not entry:
            continue  # description continued, usage, blank
        first = entry.group(1)
        if group == "Options":
            names = first.split(",")
            if not all(OPTION_NAME.fullmatch(n) for n in names):
                raise ValueError(f"unexpected option entry in --help: {line!r}")
            options.add(frozenset(names))
        elif group == "Subcommands":
            subcommands.append(first)
    return options, subcommands


def read_commands(program: str) -> list[Command]:
    """Every command of the program, the program itself first, depth first."""
    commands: list[Command] = []

    def visit(path: tuple[str, ...]) -> None:
        run = subprocess.run([program, *path, "--help"], capture_output=True, text=True,
                             timeout=HELP_TIMEOUT_SECONDS, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join([program, *path])} --help: exit {run.returncode}: {run.stderr}")
        options, subcommands = parse_help(run.stdout)
        commands.append(Command(path, options, subcommands))
        for sub in subcommands:
            visit(path + (sub,))

    visit(())
    return commands


# ---------------------------------------------------------------- the page


def roff_arguments(text: str) -> list[str]:
    """Arguments of a request line: space-separated, "quoted" with "" for a quote."""
    args: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        arg = ""
        if text[i] == '"':
            i += 1
            while i < len(text):
                if text[i] != '"':
                    arg += text[i]
                elif i + 1 < len(text) and text[i + 1] == '"':
                    arg += '"'
                    i += 1
                else:
                    i += 1
                    break
                i += 1
        else:
            while i < len(text) and text[i] != " ":
                arg += text[i]
                i += 1
        args.append(arg)
    return args


def plain(text: str) -> str:
    """Roff text without font changes, with the escapes names use decoded."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)
    for escape, char in (("\\-", "-"), ("\\(dq", '"'), ("\\e", "\\"), ("\\&", ""), ("\\c", ""), ("\\ ", " ")):
        text = text.replace(escape, char)
    return text


def request(line: str) -> tuple[str, str] | None:
    """(macro, rest) of a request line; None for text and comments."""
    if not line.startswith(".") or line.startswith('.\\"'):
        return None
    macro, _, rest = line[1:].partition(" ")
    return macro, rest


def line_text(line: str) -> str:
    """What a line prints, as plain text (alternating-font macros join their arguments)."""
    req = request(line)
    if req is None:
        return plain(line)
    macro, rest = req
    args = [plain(a) for a in roff_arguments(rest)]
    if macro in ("BR", "BI", "IB", "IR", "RB", "RI"):
        return "".join(args)
    if macro == "OP":
        return "[" + " ".join(args) + "]"
    return " ".join(args)


def tag_options(tag_line: str) -> set[str] | None:
    """The options a .TP tag starts with ("-c, --config file" -> {-c, --config}); None if none."""
    text = line_text(tag_line).strip()
    names: set[str] = set()
    while True:
        m = OPTION_NAME.match(text)
        if not m:
            break
        names.add(m.group(0))
        text = text[m.end():]
        if not text.startswith(", "):
            break
        text = text[2:]
    return names or None


@dataclass
class Synopsis:
    line: int
    command: tuple[str, ...]
    options: set[str]


@dataclass
class Page:
    program_options: dict[str, int] = field(default_factory=dict)  # name -> line
    commands: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)  # .SS -> options
    command_lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    synopses: list[Synopsis] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_page(path: Path, program: str) -> Page:
    page = Page()
    lines = path.read_text(encoding="utf-8").splitlines()
    section = ""
    command: tuple[str, ...] | None = None
    depth = 0  # .RS nesting
    synopsis: list[str] | None = None
    synopsis_line = 0
    for index, line in enumerate(lines):
        number = index + 1
        req = request(line)
        if synopsis is not None:
            if req and req[0] == "YS":
                page.synopses.append(parse_synopsis(synopsis, synopsis_line, program, page))
                synopsis = None
            else:
                synopsis.append(line)
            continue
        if req is None:
            continue
        macro, rest = req
        if macro == "SH":
            section = " ".join(roff_arguments(rest))
            command, depth = None, 0
        elif macro == "SS" and section == "COMMANDS":
            words = tuple(" ".join(plain(a) for a in roff_arguments(rest)).split())
            if words in page.commands:
                page.problems.append(f"line {number}: .SS {' '.join(words)} appears twice")
            command, depth = words, 0
            page.commands.setdefault(words, {})
            page.command_lines[words] = number
        elif macro == "SY" and section == "SYNOPSIS":
            synopsis, synopsis_line = [line], number
        elif macro == "RS":
            depth += 1
        elif macro == "RE":
            depth = max(0, depth - 1)
        elif macro == "TP" and depth == 0 and index + 1 < len(lines):
            names = tag_options(lines[index + 1])
            if names is None:
                continue
            if section == "OPTIONS":
                target = page.program_options
            elif section == "COMMANDS" and command is not None:
                target = page.commands[command]
            else:
                continue
            for name in names:
                if name in target:
                    page.problems.append(f"line {number + 1}: {name} is documented twice in the same place")
                target[name] = number + 1
    if synopsis is not None:
        page.problems.append(f"line {synopsis_line}: .SY without .YS")
    return page


def parse_synopsis(block: list[str], number: int, program: str, page: Page) -> Synopsis:
    sy = request(block[0])
    name = roff_arguments(sy[1])[0] if sy and sy[1] else ""
    if plain(name) != program:
        page.problems.append(f"line {number}: .SY {plain(name)} is not {program}")
    command: tuple[str, ...] = ()
    options: set[str] = set()
    for line in block[1:]:
        req = request(line)
        if req and req[0] == "B" and not command and not line_text(line).startswith("-"):
            command = tuple(line_text(line).split())
            continue
        options.update(OPTION_IN_TEXT.findall(line_text(line)))
    return Synopsis(number, command, options)


# ---------------------------------------------------------------- comparing


def compare(commands: list[Command], page: Page, program: str) -> list[str]:
    problems = list(page.problems)
    by_path = {c.path: c for c in commands}
    root = by_path[()]

    # The program's own options, -h/--help included, under OPTIONS.
    want = {n for option in root.options for n in option}
    for name in sorted(want - page.program_options.keys()):
        problems.append(f"{program}: option {name} is not documented under OPTIONS")
    for name in sorted(page.program_options.keys() - want):
        problems.append(f"line {page.program_options[name]}: OPTIONS documents {name}, which {program} does not have")

    # Commands: an .SS each, with their options.
    needs_section = [c for c in commands if c.path and (not c.subcommands or c.option_names())]
    for c in needs_section:
        documented = page.commands.get(c.path)
        if documented is None:
            problems.append(f"{c.name(program)}: command not documented (no .SS {' '.join(c.path)} under COMMANDS)")
            continue
        for name in sorted(c.option_names() - documented.keys()):
            problems.append(f"{c.name(program)}: option {name} is not documented under .SS {' '.join(c.path)}")
        for name in sorted(documented.keys() - c.option_names()):
            problems.append(f"line {documented[name]}: .SS {' '.join(c.path)} documents {name}, "
                            f"which {c.name(program)} does not have")
    wanted_sections = {c.path for c in needs_section}
    for path, number in page.command_lines.items():
        if path not in wanted_sections:
            what = "has subcommands" if path in by_path else "does not exist"
            problems.append(f"line {number}: .SS {' '.join(path)} documents a command that {what}")

    # SYNOPSIS: a .SY block per command that is used on its own.
    leaves = [c for c in commands if not c.subcommands]
    synopses = {s.command: s for s in page.synopses}
    for c in leaves:
        s = synopses.get(c.path)
        if s is None:
            problems.append(f"{c.name(program)}: no .SY block in SYNOPSIS names it")
            continue
        for option in sorted(c.options, key=sorted):
            if not option & HELP_NAMES and not option & s.options:
                problems.append(f"{c.name(program)}: option {'/'.join(sorted(option))} is not in its SYNOPSIS")
        for name in sorted(s.options - {n for o in c.options for n in o}):
            problems.append(f"line {s.line}: SYNOPSIS of {c.name(program)} names {name}, which it does not have")
    leaf_paths = {c.path for c in leaves}
    for s in page.synopses:
        if s.command not in leaf_paths:
            what = "has subcommands" if s.command in by_path else "does not exist"
            problems.append(f"line {s.line}: SYNOPSIS names {' '.join((program,) + s.command)}, which {what}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary, page_path = argv[1], Path(argv[2])
    program = Path(binary).name
    commands = read_commands(binary)
    page = read_page(page_path, program)
    problems = compare(commands, page, program)
    for p in problems:
        print(f"{page_path.name}: {p}")
    if problems:
        print(f"{page_path.name}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    options = sum(len(c.option_names()) for c in commands)
    print(f"{page_path.name}: ok ({len(commands)} commands, {options} options besides --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
