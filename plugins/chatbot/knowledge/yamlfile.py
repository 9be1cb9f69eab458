"""Reading YAML files with line numbers, so that every error in a knowledge file
(ours or Rasa's) names the file and the line.

:func:`read_yaml` returns the data and a :class:`Lines` index from each value's path
(``("intents", "saludo", "examples", 2)``) to its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 5 * 1024 * 1024

Path_ = tuple[str | int, ...]


class KnowledgeError(Exception):
    """A knowledge file cannot be used. Each problem names file, line and key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Lines:
    """Line numbers (1-based) of the values of one YAML file, by path."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.by_path: dict[Path_, int] = {}
        self.block: set[Path_] = set()  # literal/folded block scalars (text starts a line below)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.by_path:
                return self.by_path[path]
            path = path[:-1]
        return self.by_path.get(())

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line: a.b.c`` for error messages."""
        line = self.line(path)
        key = ".".join(str(p) for p in path) or "(top level)"
        return f"{self.file}:{line}: {key}" if line else f"{self.file}: {key}"

    def error(self, path: Sequence[str | int], message: str) -> str:
        return f"{self.where(path)}: {message}"

    def block_line(self, path: Sequence[str | int], index: int) -> int | None:
        """The line of the ``index``-th line of a block scalar at ``path``."""
        line = self.line(path)
        if line is None:
            return None
        return line + 1 + index if tuple(path) in self.block else line

    def error_at_block(self, path: Sequence[str | int], index: int, message: str) -> str:
        key = ".".join(str(p) for p in path)
        return f"{self.file}:{self.block_line(path, index)}: {key}: {message}"


def _index(node: yaml.Node, path: Path_, lines: Lines, problems: list[str]) -> None:
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        lines.block.add(path)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    f"{lines.file}:{key_node.start_mark.line + 1}: "
                    f"{'.'.join(str(p) for p in (*path, key))}: duplicate key; "
                    f"the earlier one would be silently ignored"
                )
            seen.add(key)
            lines.by_path[(*path, key)] = key_node.start_mark.line + 1
            _index(value_node, (*path, key), lines, problems)
            lines.by_path[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, problems)


def read_yaml(file: Path) -> tuple[Any, Lines]:
    """Parse ``file`` (safely: no Python tags) and index its lines.

    Raises :class:`KnowledgeError` naming the file and line of a syntax error, a
    duplicate key, or a file that is missing, too large or not UTF-8.
    """
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise KnowledgeError([f"{file}: no such file"]) from None
    except OSError as exc:
        raise KnowledgeError([f"{file}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise KnowledgeError([f"{file}: larger than {MAX_FILE_BYTES // 1024 // 1024} MB"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{file}: not UTF-8 text (byte {exc.start})"]) from None
    lines = Lines(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        message = f"{where}: not valid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.problem:
            # The problem is often found where the file ends; the context says
            # where the unfinished thing began.
            message += f" ({exc.context} that began at line {exc.context_mark.line + 1})"
        raise KnowledgeError([message]) from None
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{file}: not valid YAML: {exc}"]) from None
    problems: list[str] = []
    if node is not None:
        _index(node, (), lines, problems)
    if problems:
        raise KnowledgeError(problems)
    return data, lines
