"""Metric math: parsing a ``MetricDataQuery.Expression`` into a syntax tree.

The grammar is the subset of CloudWatch's metric math that moorage
evaluates (:mod:`moorage.monitoring.metric_data` does the evaluation)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | power
    power   := atom ("^" unary)?
    atom    := NUMBER | ID | FUNCTION "(" [expr ("," expr)*] ")"
             | "(" expr ")" | "[" expr ("," expr)* "]" | STRING | KEYWORD

``ID`` is another query's ``Id`` (it starts with a lower-case letter);
``FUNCTION`` is one of :data:`FUNCTIONS`; ``KEYWORD`` is ``REPEAT`` or
``LINEAR`` (``FILL``'s fill modes). Anything else is a
:class:`~moorage.monitoring.errors.MetricsValidationError` that names the
expression and the problem.

Nesting is limited to :data:`MAX_NESTING` levels, where parentheses,
brackets, function calls, unary minus and exponents each open a level
(CloudWatch documents no limit; 2,048 characters of ``(((...)))`` or
``-(-(-...))`` would otherwise recurse a thousand levels deep). Chains of
``+ - * /`` at one level do not nest: ``m1 + m2 + ... + m400`` is one level,
and the functions that walk a tree (:func:`references`, the evaluator in
:mod:`moorage.monitoring.metric_data`) follow such chains without recursing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from moorage.monitoring.errors import MetricsValidationError

FUNCTIONS = frozenset({"ABS", "AVG", "FILL", "MAX", "METRICS", "MIN", "SUM"})
KEYWORDS = frozenset({"REPEAT", "LINEAR"})
MAX_NESTING = 32

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>"[^"]*"|'[^']*')
      | (?P<op>[-+*/^(),\[\]])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    """A reference to another query's result by its ``Id``."""

    id: str


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Keyword:
    name: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class ArrayOf:
    items: tuple[Node, ...]


Node = Number | Ref | Text | Keyword | Call | BinOp | Negate | ArrayOf


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, without recursion (operator chains can be long)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, BinOp):
            stack.append(current.right)
            stack.append(current.left)
        elif isinstance(current, Negate):
            stack.append(current.operand)
        elif isinstance(current, Call):
            stack.extend(reversed(current.args))
        elif isinstance(current, ArrayOf):
            stack.extend(reversed(current.items))


def references(node: Node) -> set[str]:
    """The query ids an expression reads (``METRICS()`` is resolved by the caller)."""
    return {n.id for n in walk(node) if isinstance(n, Ref)}


def uses_metrics_function(node: Node) -> bool:
    return any(isinstance(n, Call) and n.function == "METRICS" for n in walk(node))


def parse(expression: str, query_id: str = "") -> Node:
    """Parse ``expression``; errors name ``query_id``."""
    return _Parser(expression, query_id).parse()


class _Parser:
    def __init__(self, text: str, query_id: str) -> None:
        self.text = text
        self.query_id = query_id
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        at = 0
        while at < len(text):
            if text[at:].strip() == "":
                break
            match = _TOKEN.match(text, at)
            if match is None or match.end() == at:
                raise self.error(f'Unexpected character "{text[at:].lstrip()[0]}"')
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            at = match.end()
        return tokens

    def error(self, problem: str) -> MetricsValidationError:
        where = f" {self.query_id}" if self.query_id else ""
        return MetricsValidationError(f"Error in expression{where}: {problem}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("Unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        token = self.peek()
        if token is None:
            raise self.error(f'Expected "{op}" at the end of the expression')
        self.pos += 1
        if token != ("op", op):
            raise self.error(f'Expected "{op}" but found "{token[1]}"')

    def enter(self) -> None:
        """One level deeper (left again by :meth:`leave`); refuses past :data:`MAX_NESTING`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(
                f"The expression nests more than {MAX_NESTING} levels of parentheses, "
                "brackets, function calls, unary minus or exponents"
            )

    def leave(self) -> None:
        self.depth -= 1

    def at_op(self, *ops: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            return token[1]
        return None

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("Empty expression")
        node = self.expr()
        if self.peek() is not None:
            raise self.error(f'Unexpected "{self.take()[1]}"')
        return node

    def expr(self) -> Node:
        node = self.term()
        while op := self.at_op("+", "-"):
            self.pos += 1
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while op := self.at_op("*", "/"):
            self.pos += 1
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at_op("-"):
            self.pos += 1
            self.enter()
            operand = self.unary()
            self.leave()
            return Negate(operand)
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        if self.at_op("^"):
            self.pos += 1
            self.enter()
            exponent = self.unary()
            self.leave()
            return BinOp("^", node, exponent)
        return node

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            return Number(float(text))
        if kind == "string":
            return Text(text[1:-1])
        if kind == "name":
            return self.name(text)
        if text == "(":
            self.enter()
            node = self.expr()
            self.expect(")")
            self.leave()
            return node
        if text == "[":
            self.enter()
            items = [self.expr()]
            while self.at_op(","):
                self.pos += 1
                items.append(self.expr())
            self.expect("]")
            self.leave()
            return ArrayOf(tuple(items))
        raise self.error(f'Unexpected "{text}"')

    def name(self, text: str) -> Node:
        if self.at_op("("):
            if text not in FUNCTIONS:
                raise self.error(
                    f"Unknown function {text}; supported: {', '.join(sorted(FUNCTIONS))}"
                )
            self.pos += 1
            self.enter()
            args: list[Node] = []
            if not self.at_op(")"):
                args.append(self.expr())
                while self.at_op(","):
                    self.pos += 1
                    args.append(self.expr())
            self.expect(")")
            self.leave()
            return Call(text, tuple(args))
        if text in KEYWORDS:
            return Keyword(text)
        if not text[0].islower():
            raise self.error(f"Unknown identifier {text}: query ids start with a lower-case letter")
        return Ref(text)
