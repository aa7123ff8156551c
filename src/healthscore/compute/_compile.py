"""Compile the scorecard's expression trees to Ibis expressions (never to SQL text)."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir

from healthscore.spec._expr import (
    Binary,
    Call,
    Compare,
    Const,
    Expr,
    ListOf,
    Logic,
    Name,
    Negate,
    Not,
)

Lookup = Callable[[str], ir.Value]
SECONDS_PER_DAY = 86400.0


def epoch_days(value: ir.Value) -> ir.NumericValue:
    """Days since 1970 as a float, for date and timestamp values alike.

    Whole seconds: Spark's epoch drops the fraction, DuckDB's keeps it; flooring both agrees.
    The cast to float64 comes before the division because Spark reads a literal such as
    86400.0 as a DECIMAL, and integer / DECIMAL rounds to 6 decimals there.
    """
    seconds = value.cast("timestamp").epoch_seconds()
    whole: ir.NumericValue = seconds.floor().cast("float64")
    return whole / SECONDS_PER_DAY


def compile_expr(expr: Expr, lookup: Lookup, as_of: ir.Value) -> ir.Value:
    """The Ibis expression for `expr`; names resolve through `lookup`.

    Division by zero gives null (missing), never an error or infinity, on every backend.
    """

    def build(node: Expr) -> Any:
        match node:
            case Name(name=name):
                return lookup(name)
            case Const(value=None):
                return ibis.null()
            case Const(value=value):
                return ibis.literal(value)
            case ListOf(items=items):
                return list(items)
            case Negate(operand=operand):
                return -build(operand)
            case Not(operand=operand):
                return ~build(operand)
            case Logic(op="and", operands=operands):
                return reduce(lambda a, b: a & b, (build(o) for o in operands))
            case Logic(op="or", operands=operands):
                return reduce(lambda a, b: a | b, (build(o) for o in operands))
            case Binary(op=op, left=left, right=right):
                return _binary(op, build(left), build(right))
            case Compare(op=op, left=left, right=right):
                return _compare(op, build(left), build(right))
            case Call(function=function, args=args):
                return _call(function, [build(arg) for arg in args], as_of)
        raise TypeError(f"unknown expression node {node!r}")

    result: ir.Value = build(expr)
    return result


def _binary(op: str, left: Any, right: Any) -> Any:
    match op:
        case "+":
            return left + right
        case "-":
            return left - right
        case "*":
            return left * right
        case "/":
            # As doubles: Spark divides integers by a literal such as 2.5 as DECIMALs.
            return _as_float(left) / _nonzero(_as_float(right))
    raise ValueError(op)


def _as_float(value: Any) -> Any:
    if isinstance(value, ir.Value):
        return value.cast("float64")
    return ibis.literal(value).cast("float64")


def _nonzero(value: Any) -> Any:
    if isinstance(value, ir.Value):
        return value.nullif(0)
    return ibis.literal(value).nullif(0)


def _compare(op: str, left: Any, right: Any) -> Any:
    match op:
        case "==":
            return left == right
        case "!=":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
        case ">=":
            return left >= right
        case "in":
            return left.isin(right)
        case "not in":
            return left.notin(right)
    raise ValueError(op)


def _call(function: str, args: list[Any], as_of: ir.Value) -> Any:
    match function:
        case "days_until":
            return epoch_days(args[0]) - epoch_days(as_of)
        case "days_since":
            return epoch_days(as_of) - epoch_days(args[0])
        case "abs":
            return args[0].abs()
        case "log1p":
            return (ibis.greatest(args[0], 0) + 1).ln()
        case "min":
            return ibis.least(*args)
        case "max":
            return ibis.greatest(*args)
        case "coalesce":
            return ibis.coalesce(*args)
        case "is_null":
            return args[0].isnull()
        case "lower":
            return args[0].lower()
        case "contains":
            return args[0].contains(args[1])
    raise ValueError(function)
