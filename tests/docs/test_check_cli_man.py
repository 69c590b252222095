"""check_cli_man.py on a fake program and small pages: each rule of its convention,
and each mismatch reported on the side it is missing on, so that a lax checker
cannot let the real pages pass."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import check_cli_man  # noqa: E402

# CLI11's help (2.x) for a program "tool" with commands "cache list", "cache show"
# and "ping"; only the parts the checker reads.
HELP = {
    (): """\
        tool: a fake
        Usage: tool [OPTIONS] SUBCOMMAND

        Options:
          -h,--help                   Print this help message and exit
          -c,--config TEXT            configuration file

        Subcommands:
          cache                       the cache
          ping                        ping it
        """,
    ("cache",): """\
        the cache
        Usage: tool cache [OPTIONS] SUBCOMMAND

        Options:
          -h,--help                   Print this help message and exit

        Subcommands:
          list                        list it
          show                        show one
        """,
    ("cache", "list"): """\
        list it
        Usage: tool cache list [OPTIONS]

        Options:
          -h,--help                   Print this help message and exit
          --json                      JSON output
        """,
    ("cache", "show"): """\
        show one
        Usage: tool cache show [OPTIONS] domain

        Positionals:
          domain TEXT REQUIRED        domain

        Options:
          -h,--help                   Print this help message and exit
          --json                      JSON output
          --profile TEXT              a profile
        """,
    ("ping",): """\
        ping it
        Usage: tool ping [OPTIONS]

        Options:
          -h,--help                   Print this help message and exit
        """,
}

PAGE = r"""
.TH TOOL 8
.SH SYNOPSIS
.SY tool
.RI [ options ]
.B cache list
.OP \-\-json
.YS
.SY tool
.RI [ options ]
.B cache show
.I domain
.OP \-\-profile name
.OP \-\-json
.YS
.SY tool
.B ping
.YS
.SH OPTIONS
.TP
.BR \-c ", " \-\-config " \fIfile\fP"
The file; see
.B \-\-json
below.
.TP
.BR \-h ", " \-\-help
Help.
.SH COMMANDS
.SS "cache list"
Lists.
.TP
.B \-\-json
JSON.
.SS "cache show"
Shows
.IR domain :
.RS
.TP
.B \-\-not\-an\-option
inside a list.
.RE
.TP
.BI \-\-profile " name"
As this profile.
.TP
.B \-\-json
JSON.
.TP
.B state
Not an option: no leading dash.
.SS ping
Pings.
.SH JSON
.TP
.B \-\-json
Outside COMMANDS and OPTIONS: no option entry.
"""


def commands() -> list[check_cli_man.Command]:
    out = []
    for path, text in HELP.items():
        options, subcommands = check_cli_man.parse_help(textwrap.dedent(text))
        out.append(check_cli_man.Command(path, options, subcommands))
    return out


def problems(page: str, tmp_path: Path) -> list[str]:
    file = tmp_path / "tool.8"
    file.write_text(page, encoding="utf-8")
    return check_cli_man.compare(commands(), check_cli_man.read_page(file, "tool"), "tool")


def test_help_gives_option_names_and_subcommands():
    options, subcommands = check_cli_man.parse_help(textwrap.dedent(HELP[()]))
    assert options == {frozenset({"-h", "--help"}), frozenset({"-c", "--config"})}
    assert subcommands == ["cache", "ping"]
    options, subcommands = check_cli_man.parse_help(textwrap.dedent(HELP[("cache", "show")]))
    assert options == {frozenset({"-h", "--help"}), frozenset({"--json"}), frozenset({"--profile"})}
    assert subcommands == []


def test_a_page_that_follows_the_convention_passes(tmp_path):
    assert problems(PAGE, tmp_path) == []


@pytest.mark.parametrize(
    "old, new, expected",
    [
        # An option described in prose only does not count.
        (".TP\n.BI \\-\\-profile \" name\"\n", ".PP\n.BI \\-\\-profile \" name\"\n",
         "tool cache show: option --profile is not documented under .SS cache show"),
        # Every name of an option.
        (".BR \\-c \", \" \\-\\-config", ".B \\-\\-config", "tool: option -c is not documented under OPTIONS"),
        (".SS ping\n", "", "tool ping: command not documented (no .SS ping under COMMANDS)"),
        (".SS ping\n", ".SS ping\n.TP\n.B \\-\\-fast\nx\n",
         "line 53: .SS ping documents --fast, which tool ping does not have"),
        (".SS ping\n", ".SS pong\n", "line 51: .SS pong documents a command that does not exist"),
        (".SS ping\n", ".SS cache\n", "line 51: .SS cache documents a command that has subcommands"),
        (".TP\n.BR \\-h", ".TP\n.B \\-\\-verbose\nx\n.TP\n.BR \\-h",
         "line 26: OPTIONS documents --verbose, which tool does not have"),
        (".OP \\-\\-profile name\n", "", "tool cache show: option --profile is not in its SYNOPSIS"),
        (".B ping\n", ".B ping\n.OP \\-\\-json\n",
         "line 16: SYNOPSIS of tool ping names --json, which it does not have"),
        (".SY tool\n.B ping\n.YS\n", "", "tool ping: no .SY block in SYNOPSIS names it"),
        (".B ping\n", ".B pong\n", "line 16: SYNOPSIS names tool pong, which does not exist"),
    ],
)
def test_each_mismatch_is_reported_where_it_is(tmp_path, old, new, expected):
    assert PAGE.count(old) >= 1, old
    assert expected in problems(PAGE.replace(old, new, 1), tmp_path)


def test_help_of_the_program_need_not_be_repeated_but_must_be_under_options(tmp_path):
    page = PAGE.replace(".TP\n.BR \\-h \", \" \\-\\-help\nHelp.\n", "")
    assert problems(page, tmp_path) == [
        "tool: option --help is not documented under OPTIONS",
        "tool: option -h is not documented under OPTIONS",
    ]
