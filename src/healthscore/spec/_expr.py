"""A small, safe expression language for `where`, `when` and `expr`.

Expressions look like Python (`type == 'login' and value > 2`, `active_users_30d / seats`,
`days_until(renewal_date) < 60`) but are parsed into a closed tree of typed nodes; only
these nodes exist, so nothing a user writes can reach SQL as text. Compilation to Ibis
lives in `healthscore.compute`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

BinaryOperator: TypeAlias = Literal["+", "-", "*", "/"]
CompareOperator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
LogicOperator: TypeAlias = Literal["and", "or"]
Scalar: TypeAlias = int | float | str | bool | None

#: Functions an expression may call, with their number of arguments.
FUNCTIONS: Final[dict[str, tuple[int, int]]] = {
    "days_until": (1, 1),  # days from as_of to a date/timestamp field
    "days_since": (1, 1),  # days from a date/timestamp field to as_of
    "abs": (1, 1),
    "log1p": (1, 1),
    "min": (2, 8),
    "max": (2, 8),
    "coalesce": (2, 8),
    "is_null": (1, 1),
    "lower": (1, 1),
    "contains": (2, 2),
}


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Const:
    value: Scalar


@dataclass(frozen=True)
class ListOf:
    items: tuple[Scalar, ...]


@dataclass(frozen=True)
class Binary:
    op: BinaryOperator
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate:
    operand: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class Logic:
    op: LogicOperator
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare:
    op: CompareOperator
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Expr, ...]


Expr: TypeAlias = Name | Const | ListOf | Binary | Negate | Not | Logic | Compare | Call


class ExpressionError(ValueError):
    """An expression is not valid; the message says what was expected and what was found."""


_BINARY: Final[dict[type[ast.operator], BinaryOperator]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_COMPARE: Final[dict[type[ast.cmpop], CompareOperator]] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_MAX_LENGTH: Final = 2000
_NODE_WORDS: Final = {
    "IfExp": "an if/else expression",
    "Attribute": "attribute access",
    "Subscript": "indexing",
    "Lambda": "a lambda",
    "Call": "a call of something that is not a function name",
    "BinOp": "an operator other than + - * /",
    "Dict": "a mapping",
    "Set": "a set",
    "ListComp": "a comprehension",
    "GeneratorExp": "a comprehension",
    "NamedExpr": "an assignment",
}


def parse_expression(text: str) -> Expr:
    """Parse `text` into an expression tree, or raise ExpressionError.

    >>> parse_expression("logins_30d >= 3")
    Compare(op='>=', left=Name(name='logins_30d'), right=Const(value=3))
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be non-empty text")
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"an expression must be at most {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(
            f"a valid expression (e.g. \"type == 'login' and value > 2\"); "
            f"syntax error at column {error.offset}"
        ) from None
    return _convert(tree.body)


def _convert(node: ast.expr) -> Expr:
    match node:
        case ast.Name(id=name):
            return Name(name)
        case ast.Constant(value=value) if value is None or isinstance(
            value, bool | int | float | str
        ):
            return Const(value)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return Negate(_convert(operand))
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _convert(operand)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return Not(_convert(operand))
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _BINARY:
            return Binary(_BINARY[type(op)], _convert(left), _convert(right))
        case ast.BoolOp(op=op, values=values):
            logic: LogicOperator = "and" if isinstance(op, ast.And) else "or"
            return Logic(logic, tuple(_convert(value) for value in values))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            return _convert_compare(left, ops, comparators)
        case ast.Call(func=ast.Name(id=function), args=args, keywords=[]):
            return _convert_call(function, args)
        case ast.Tuple(elts=items) | ast.List(elts=items):
            return ListOf(tuple(_constant(item) for item in items))
    kind = _NODE_WORDS.get(type(node).__name__, type(node).__name__)
    raise ExpressionError(
        "names, numbers, quoted text, + - * /, comparisons, and/or/not and the functions "
        f"{', '.join(sorted(FUNCTIONS))}; found {kind} '{ast.unparse(node)}'"
    )


def _convert_compare(left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr]) -> Expr:
    parts: list[Expr] = []
    current = _convert(left)
    for op, comparator in zip(ops, comparators, strict=True):
        if type(op) not in _COMPARE:
            raise ExpressionError(f"a comparison operator; found '{type(op).__name__}'")
        symbol = _COMPARE[type(op)]
        right = _convert(comparator)
        if symbol in ("in", "not in") and not isinstance(right, ListOf):
            raise ExpressionError("a list of values after 'in', e.g. type in ('login', 'export')")
        parts.append(Compare(symbol, current, right))
        current = right
    return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))


def _convert_call(function: str, args: list[ast.expr]) -> Expr:
    if function not in FUNCTIONS:
        raise ExpressionError(
            f"one of the functions {', '.join(sorted(FUNCTIONS))}; found '{function}'"
        )
    low, high = FUNCTIONS[function]
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError(f"{function}() takes {expected} arguments; found {len(args)}")
    return Call(function, tuple(_convert(arg) for arg in args))


def _constant(node: ast.expr) -> Scalar:
    converted = _convert(node)
    if isinstance(converted, Const):
        return converted.value
    if isinstance(converted, Negate) and isinstance(converted.operand, Const):
        value = converted.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    raise ExpressionError(f"a list of constant values; found '{ast.unparse(node)}'")


def names_in(expr: Expr) -> frozenset[str]:
    """Every field or metric name the expression reads."""
    match expr:
        case Name(name=name):
            return frozenset({name})
        case Const() | ListOf():
            return frozenset()
        case Binary(left=left, right=right) | Compare(left=left, right=right):
            return names_in(left) | names_in(right)
        case Negate(operand=operand) | Not(operand=operand):
            return names_in(operand)
        case Logic(operands=operands) | Call(args=operands):
            return frozenset().union(*(names_in(operand) for operand in operands))
