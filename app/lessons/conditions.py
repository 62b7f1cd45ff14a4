"""The condition language of a lesson step: a tiny expression the page evaluates on every frame.

    when: "hyper.lr >= 3 and not diverged"

Grammar (the whole of it; the page's evaluator follows the same one):

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand    := NAME | NUMBER | STRING | "true" | "false" | "null" | "(" expr ")"

A NAME is one of `VARIABLES` (a dotted path into the frame or the session);
NUMBER is a decimal (`3`, `0.9`, `-1`, `1e-3`); STRING is quoted with ' or ".
Types are checked when the lesson is loaded: an order (`<`) compares numbers,
`==` and `!=` a value with one of its own kind or `null`; `and`, `or` and `not`
take booleans, so a bare number is refused. A variable without a value (no
validation split, no trouble) is `null`: any order comparison with it is false.
There are no calls, no indexing, no assignment: nothing to run but comparisons.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["number", "string", "bool"]

# Every name a condition or a `then` placeholder may use, with its kind and where its value comes from
# (`frame.x` is the newest frame's field, `session.x` the session message's).
VARIABLES: dict[str, tuple[Kind, str]] = {
    "step": ("number", "frame.step: updates done"),
    "epoch": ("number", "frame.epoch: epochs done"),
    "playing": ("bool", "frame.playing"),
    "phase": ("string", "frame.phase: the step-by-step phase shown, or null"),
    "diverged": ("bool", "frame.diverged is not null: the run diverged"),
    "trouble": ("string", "frame.trouble.kind (stuck, dead, oscillating, growing, diverged), or null"),
    **{f"metrics.{name}": ("number", f"frame.metrics.{name}") for name in (
        "train_loss", "test_loss", "val_loss", "train_acc", "test_acc", "val_acc", "batch_loss",
        "train_loss_penalized")},
    **{f"hyper.{name}": ("number", f"frame.hyper.{name}") for name in (
        "lr", "momentum", "batch_size", "reg_rate", "dropout", "beta1", "beta2", "rho")},
    "hyper.optimizer": ("string", "frame.hyper.optimizer"),
    "hyper.regularization": ("string", "frame.hyper.regularization"),
    **{f"config.{name}": ("number", f"session.config.{name}") for name in (
        "noise", "train_ratio", "val_ratio", "n_points", "seed")},
    **{f"config.{name}": ("string", f"session.config.{name}") for name in ("dataset", "activation", "init")},
    "config.task": ("string", "session.architecture.task: the task the network is trained on"),
    "params": ("number", "session.architecture.total_params: weights and biases in all"),
    "layers": ("number", "session.architecture.hidden's length: hidden layers"),
    "tasks": ("number", "session.tasks' length: tasks trained on so far (1 before any fine-tuning)"),
    "quantized.bits": ("number", "frame.quantized.bits: 0 while quantization is off"),
    "quantized.test_acc": ("number", "frame.quantized.test_acc: the quantized model's, or null"),
    "quantized.train_acc": ("number", "frame.quantized.train_acc"),
    "early_stopping.stopped_epoch": ("number", "frame.early_stopping.stopped_epoch, or null"),
    "early_stopping.best_epoch": ("number", "frame.early_stopping.best_epoch, or null"),
}

MAX_CONDITION_CHARS = 200
ORDERS = ("<", "<=", ">", ">=")
EQUALITIES = ("==", "!=")

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<string>"[^"\\]*"|'[^'\\]*')
    | (?P<op><=|>=|==|!=|<|>|\(|\))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""", re.X)
_KEYWORDS = ("and", "or", "not", "true", "false", "null")


class ConditionError(ValueError):
    """A condition that cannot be parsed or does not type-check; the message says where and why."""


# The parsed tree: small frozen nodes, so a parsed condition can be kept and evaluated many times.
@dataclass(frozen=True)
class Const:
    value: float | str | bool | None


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Logic:
    op: Literal["and", "or"]
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


Node = Const | Var | Not | Logic | Compare


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConditionError(f"cannot read {text[pos:].strip()[:20]!r} (character {pos + 1})")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = value
        out.append((kind, value))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, *kinds: str) -> tuple[str, str] | None:
        token = self.peek()
        if token is not None and (token[0] in kinds or token[1] in kinds):
            self.at += 1
            return token
        return None

    def expr(self) -> Node:
        operands = [self.and_expr()]
        while self.take("or"):
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Logic("or", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.take("and"):
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else Logic("and", tuple(operands))

    def not_expr(self) -> Node:
        if self.take("not"):
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ORDERS + EQUALITIES:
            self.at += 1
            return Compare(token[1], left, self.operand())
        return left

    def operand(self) -> Node:
        token = self.peek()
        if token is None:
            raise ConditionError("the condition ends too soon: a name, a number or a string is missing")
        self.at += 1
        kind, value = token
        if kind == "number":
            return Const(float(value))
        if kind == "string":
            return Const(value[1:-1])
        if kind in ("true", "false"):
            return Const(kind == "true")
        if kind == "null":
            return Const(None)
        if kind == "name":
            if value not in VARIABLES:
                raise ConditionError(f"unknown name {value!r}; names: {', '.join(VARIABLES)}")
            return Var(value)
        if value == "(":
            inner = self.expr()
            if not self.take(")"):
                raise ConditionError("a '(' is not closed")
            return inner
        raise ConditionError(f"unexpected {value!r}")


def _kind(node: Node) -> Kind | None:
    """The kind of value `node` gives (None: the `null` constant); raises where kinds do not fit."""
    if isinstance(node, Const):
        if node.value is None:
            return None
        return "bool" if isinstance(node.value, bool) else "string" if isinstance(node.value, str) else "number"
    if isinstance(node, Var):
        return VARIABLES[node.name][0]
    if isinstance(node, Not):
        _need_bool(node.operand, "not")
        return "bool"
    if isinstance(node, Logic):
        for operand in node.operands:
            _need_bool(operand, node.op)
        return "bool"
    left, right = _kind(node.left), _kind(node.right)
    if node.op in ORDERS:
        if left != "number" or right != "number":
            raise ConditionError(f"'{node.op}' compares two numbers (got a {left or 'null'} and a {right or 'null'})")
    elif left is not None and right is not None and left != right:
        raise ConditionError(f"'{node.op}' compares values of one kind (got a {left} and a {right})")
    return "bool"


def _need_bool(node: Node, where: str) -> None:
    if _kind(node) != "bool":
        raise ConditionError(f"'{where}' takes true or false: compare the value (e.g. 'step >= 10')")


def parse(text: str) -> Node:
    """The condition `text` as a tree; raises ConditionError saying what is wrong."""
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(f"a condition has at most {MAX_CONDITION_CHARS} characters")
    parser = _Parser(text)
    if not parser.tokens:
        raise ConditionError("the condition is empty")
    node = parser.expr()
    rest = parser.peek()
    if rest is not None:
        raise ConditionError(f"unexpected {rest[1]!r} after a complete condition")
    if _kind(node) != "bool":
        raise ConditionError("a condition must be true or false: compare the value (e.g. 'step >= 10')")
    return node


def evaluate(node: Node, values: dict[str, Any]) -> bool:
    """Whether the condition holds for `values` (name -> value; a missing one is null)."""
    return bool(_value(node, values))


def _value(node: Node, values: dict[str, Any]) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Var):
        value = values.get(node.name)
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(node, Not):
        return not _value(node.operand, values)
    if isinstance(node, Logic):
        results = (_value(operand, values) for operand in node.operands)
        return all(results) if node.op == "and" else any(results)
    left, right = _value(node.left, values), _value(node.right, values)
    if node.op == "==":
        return left == right
    if node.op == "!=":
        return left != right
    if left is None or right is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[node.op]


def values_from(frame: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    """Every variable's value from a frame and the session message, as `VARIABLES` describes them
    (the reference for the page's own reading of the same messages)."""
    hyper, metrics = frame.get("hyper") or {}, frame.get("metrics") or {}
    config, architecture = session.get("config") or {}, session.get("architecture") or {}
    trouble, quantized = frame.get("trouble"), frame.get("quantized") or {}
    stopping = frame.get("early_stopping") or {}
    out: dict[str, Any] = {
        "step": frame.get("step"), "epoch": frame.get("epoch"), "playing": frame.get("playing"),
        "phase": frame.get("phase"), "diverged": frame.get("diverged") is not None,
        "trouble": trouble.get("kind") if trouble else None,
        "config.task": architecture.get("task"), "params": architecture.get("total_params"),
        "layers": len(architecture.get("hidden") or []), "tasks": len(session.get("tasks") or []) or 1,
        # From the frame, not the session message: the server does not resend the session after `quantize`.
        "quantized.bits": quantized.get("bits", 0),
        "quantized.test_acc": quantized.get("test_acc"), "quantized.train_acc": quantized.get("train_acc"),
        "early_stopping.stopped_epoch": stopping.get("stopped_epoch"),
        "early_stopping.best_epoch": stopping.get("best_epoch"),
    }
    for name in VARIABLES:
        root, _, field = name.partition(".")
        if root == "metrics":
            out[name] = metrics.get(field)
        elif root == "hyper":
            out[name] = hyper.get(field)
        elif root == "config" and name not in out:
            out[name] = config.get(field)
    return out


def to_json(node: Node) -> list[Any]:
    """The tree as JSON lists, for a page that evaluates without parsing: `["var", name]`, `["const", value]`,
    `["not", x]`, `["and", x, y, ...]`, `["or", x, y, ...]`, `[op, left, right]` for a comparison."""
    if isinstance(node, Const):
        return ["const", node.value]
    if isinstance(node, Var):
        return ["var", node.name]
    if isinstance(node, Not):
        return ["not", to_json(node.operand)]
    if isinstance(node, Logic):
        return [node.op, *(to_json(operand) for operand in node.operands)]
    return [node.op, to_json(node.left), to_json(node.right)]
