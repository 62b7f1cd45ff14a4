"""Read a lesson file: YAML to data, data to a `Lesson`, every error with its file, line and field.

The YAML is read by PyYAML's safe loader with the surprises of YAML 1.1 taken
out, so that what a teacher types means what it looks like: only `true` and
`false` are booleans (`yes`, `no`, `on`, `off` stay words), `1e-3` is a
number, `012` and `1:30` are not numbers in disguise (octal, sexagesimal), a
date stays a string; a key given twice, an anchor used twice (`&a` ... `*a`),
a merge key and an explicit tag are refused. Then the data is validated by
the lesson models (`format.py`), and pydantic's error location is mapped back
to the line of the YAML node it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app import protocol as p
from app.lessons.format import Lesson

MAX_LESSON_BYTES = 64 * 1024
MAX_NODES = 20_000  # far above a 30-step lesson; bounds the work a small file can ask for
MAX_DEPTH = 20  # a lesson nests 7 deep (steps, a step, setup, lab, early_stopping, rule, a field)
TAG = "tag:yaml.org,2002:"


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2's plain scalars: the implicit types below and nothing else."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
        ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
        ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$"
                  r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$", "-+0123456789.")):
    _Loader.add_implicit_resolver(TAG + _tag, re.compile(_pattern), list(_first))
_Loader.add_implicit_resolver(TAG + "null", re.compile(r"^$"), [""])


class LessonError(ValueError):
    """A lesson file that cannot be taken: `source` (its file name), `line` (1-based, None if unknown),
    `field` (a dotted path such as `steps.2.setup.hyper.lr`, None for the whole file), `reason`, `allowed`."""

    def __init__(self, source: str, line: int | None, field: str | None, reason: str,
                 allowed: str | None = None, value: Any = None) -> None:
        where = source + (f", line {line}" if line else "") + (f", {field}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.source, self.line, self.field, self.reason = source, line, field, reason
        self.allowed, self.value = allowed, value


@dataclass
class _Reader:
    """Turns a composed YAML node tree into plain data, noting the line of every path."""

    source: str
    lines: dict[tuple[Any, ...], int]
    nodes: int = 0

    def fail(self, node: yaml.Node, reason: str, path: tuple[Any, ...], allowed: str | None = None) -> LessonError:
        return LessonError(self.source, node.start_mark.line + 1, _dotted(path), reason, allowed)

    def read(self, node: yaml.Node, path: tuple[Any, ...], seen: set[int], key: yaml.Node | None = None) -> Any:
        """`key`: the key node `node` is the value of (an alias's own place is not kept: its key's is)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"the file has more than {MAX_NODES:,} values", path)
        if len(path) > MAX_DEPTH:
            raise self.fail(node, "the file is nested too deeply", path, f"at most {MAX_DEPTH} levels of nesting")
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in seen:
                raise self.fail(key or node, "an anchor is used twice (&name ... *name)", path,
                                "each value written out where it is used")
            seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != TAG + "map":
                raise self.fail(node, f"the tag {node.tag!r} is not taken", path, "plain YAML, no ! tags")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    raise self.fail(key_node, f"a key must be a name (got {key!r})", path)
                if key == "<<" and key_node.tag == TAG + "merge":
                    raise self.fail(key_node, "merge keys (<<) are not taken", path)
                if key in out:
                    raise self.fail(key_node, f"the key {key!r} is given twice", (*path, key))
                out[key] = self.read(value_node, (*path, key), seen, key_node)
                # The key's line: where an unknown field or a wrong value is written (a block value starts below).
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != TAG + "seq":
                raise self.fail(node, f"the tag {node.tag!r} is not taken", path, "plain YAML, no ! tags")
            return [self.read(item, (*path, i), seen) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        value: str = node.value
        kind = node.tag[len(TAG):] if node.tag.startswith(TAG) else None
        if kind == "str":
            return value
        if kind == "null":
            return None
        if kind == "bool":
            return value.lower() == "true"
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value.lower().replace(".inf", "inf").replace(".nan", "nan"))
        raise self.fail(node, f"the tag {node.tag!r} is not taken", path, "plain YAML, no ! tags")


def _dotted(path: tuple[Any, ...]) -> str | None:
    return ".".join(str(part) for part in path) or None


def read_yaml(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The data in `text` and the line of each path in it; raises LessonError for bad YAML."""
    if len(text.encode("utf-8")) > MAX_LESSON_BYTES:
        raise LessonError(source, None, None, f"the file is larger than {MAX_LESSON_BYTES:,} bytes",
                          f"at most {MAX_LESSON_BYTES:,} bytes")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except RecursionError:  # PyYAML composes nested collections recursively
        raise LessonError(source, None, None, "the file is nested too deeply",
                          f"at most {MAX_DEPTH} levels of nesting") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # Where it was noticed (the line), and where what it was reading began (an unclosed bracket's line).
        context = exc.context and exc.context + (f" begun on line {exc.context_mark.line + 1}"
                                                 if exc.context_mark and exc.context_mark is not mark else "")
        reason = ", ".join(part for part in (context, exc.problem) if part)
        raise LessonError(source, mark.line + 1 if mark else None, None, f"not valid YAML: {reason}",
                          "a YAML mapping (see docs/lessons.md)") from None
    except yaml.YAMLError as exc:
        raise LessonError(source, None, None, f"not valid YAML: {exc}", "a YAML mapping (see docs/lessons.md)") from None
    if root is None:
        raise LessonError(source, None, None, "the file is empty", "a YAML mapping (see docs/lessons.md)")
    lines: dict[tuple[Any, ...], int] = {}
    data = _Reader(source, lines).read(root, (), set())
    return data, lines


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    """The line of the deepest part of `loc` the file has (a missing field: its parent's)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def parse_lesson(text: str, source: str) -> Lesson:
    """The lesson in `text` (the YAML of a lesson file), validated; raises LessonError naming `source`,
    the line and the field of the first problem."""
    data, lines = read_yaml(text, source)
    if not isinstance(data, dict):
        raise LessonError(source, 1, None, "a lesson file is a YAML mapping (id, title, summary, ideas, steps)",
                          "a YAML mapping (see docs/lessons.md)")
    try:
        return Lesson.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        # pydantic labels some steps of a location itself (a union's member: "function-after[...]"): not fields.
        loc = tuple(part for part in err["loc"] if not (isinstance(part, str) and "[" in part))
        error = p.error_from_details({**err, "loc": loc}, None, None)
        reason = error.message.split(": ", 1)[1] if error.field and error.message.startswith(f"{error.field}: ") \
            else error.message
        raise LessonError(source, _line_of(loc, lines), error.field, reason, error.allowed, error.value) from None


def load_file(path: Path) -> Lesson:
    """The lesson in the file at `path`; a built-in lesson's id must be its file's name."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LessonError(path.name, None, None, f"the file is not UTF-8 text (byte {exc.start})") from None
    lesson = parse_lesson(text, path.name)
    if lesson.id != path.stem:
        _, lines = read_yaml(text, path.name)
        raise LessonError(path.name, lines.get(("id",)), "id", f"the id {lesson.id!r} is not the file's name",
                          f"{path.stem!r} (the file's name without .yaml)", lesson.id)
    return lesson
