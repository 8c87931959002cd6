"""The runbook and the deploy guide are true: every `ftw` command they give exists with the
options they use, every script they name is in the repository, and no step says something
is still missing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from ftw.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "runbook.md", ROOT / "docs" / "deploy.md"]
# `ftw` as a command: not a name like ftw-api, deploy/ftw-worker, `-n ftw` or db=ftw.
COMMAND = re.compile(r"(?<![\w/.=:@-])(?<!-n )(?<!namespace )ftw +(?=[a-z])")
MISSING = re.compile(r"not built|not yet|to be built|todo\b|tbd\b|coming soon|until then", re.IGNORECASE)
SCRIPTS = re.compile(r"\bdeploy/[\w./-]+\.sh\b")


def _code(text: str) -> list[str]:
    """Inline code spans and fenced blocks, where commands are written."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return fenced + inline


def _words(rest: str) -> list[str]:
    """The command's words, up to the end of the shell command (a pipe, `;`, `&&`, `)`) or of
    a code span quoted inside a block."""
    lexer = shlex.shlex(rest.split("`")[0].replace("...", ""), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for token in lexer:
        if token[0] in "();<>|&#":
            break
        words.append(token)
    return words


def commands(path: Path) -> list[list[str]]:
    found = []
    for code in _code(path.read_text()):
        for line in code.splitlines():
            for match in COMMAND.finditer(line):
                found.append(_words(line[match.end() :]))
    return found


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The command the words name, and the options given to it; fails on an unknown one.
    (Typer carries its own copy of click: groups are told apart by their ``commands``.)"""
    command: Any = typer.main.get_command(app)
    path = ["ftw"]
    options: list[str] = []
    for word in words:
        group = getattr(command, "commands", None)
        if word.startswith("--"):
            options.append(word.split("=", 1)[0])
        elif group is not None and not options and word in group:
            command = group[word]
            path.append(word)
        elif group is not None and not options and not command.invoke_without_command:
            pytest.fail(f"`{' '.join(path)} {word}` is not a command")
    return command, options


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_ftw_command_exists_with_its_options(doc: Path) -> None:
    used = commands(doc)
    assert used, f"no ftw command found in {doc.name}"
    for words in used:
        command, options = resolve(words)
        known = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
        assert set(options) <= known, f"`ftw {' '.join(words)}`: unknown {set(options) - known}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_step_says_something_is_missing(doc: Path) -> None:
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        assert not MISSING.search(line), f"{doc.name}:{number}: {line}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_script_named_exists(doc: Path) -> None:
    for script in set(SCRIPTS.findall(doc.read_text())):
        assert (ROOT / script).is_file(), f"{doc.name} names {script}"


def test_the_check_catches_a_made_up_command() -> None:
    with pytest.raises(pytest.fail.Exception, match="`ftw cache flush` is not a command"):
        resolve(["cache", "flush"])
    command, options = resolve(["switch", "sms", "off", "--message", "x"])
    assert command.name == "switch"
    assert options == ["--message"]
