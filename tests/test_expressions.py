"""The expression language: what parses, what is refused, and that no text reaches SQL."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from healthscore import ScorecardError, load_scorecard_text
from healthscore.compute._compile import compile_expr
from healthscore.spec import ExpressionError, names_in, parse_expression

INJECTIONS = [
    "1; DROP TABLE events",
    "type == 'login'; DELETE FROM accounts",
    "__import__('os').system('rm -rf /')",
    "accounts.secret",
    "events[0]",
    "lambda: 1",
    "type == 'x' or 1=1",
    "exec('print(1)')",
    "' OR '1'='1",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_invalid_expressions(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_quoted_sql_stays_a_literal_value() -> None:
    # The text is one string value compared with a column: it is bound, never spliced.
    table = ibis.table({"type": "string"}, name="events")
    expr = parse_expression('type == "x\'; DROP TABLE events; --"')
    compiled = compile_expr(expr, lambda name: table[name], ibis.literal(dt.datetime(2026, 1, 1)))
    con = ibis.duckdb.connect()
    events = con.create_table("events", {"type": ["x'; DROP TABLE events; --", "login"]})
    result = events.filter(compile_expr(expr, lambda n: events[n], ibis.now())).count().execute()
    assert result == 1
    assert compiled.type().is_boolean()
    assert "events" in con.list_tables()


def test_injection_in_a_scorecard_is_reported_with_its_line() -> None:
    text = """name: s
version: "1"
sources: {accounts: {table: accounts}, events: {table: events}}
metrics:
  logins: {kind: count, table: events, where: "type == 'login'; DROP TABLE events"}
groups:
  usage: {measures: {logins: {kind: linear, metric: logins, bad: 0, good: 5}}}
"""
    with pytest.raises(ScorecardError) as caught:
        load_scorecard_text(text, "card.yaml")
    (issue,) = caught.value.issues
    assert issue.line == 5
    assert issue.object == "metrics.logins.where"


def test_names_in_lists_every_field() -> None:
    expr = parse_expression("days_until(renewal_date) < 60 and active_users / seats > 0.5")
    assert names_in(expr) == {"renewal_date", "active_users", "seats"}


def test_chained_comparisons_and_lists() -> None:
    expr = parse_expression("0 < value <= 10 and type not in ('a', 'b')")
    con = ibis.duckdb.connect()
    table = con.create_table("t", {"value": [0, 5, 10, 11, 5], "type": ["c", "c", "c", "c", "a"]})
    matched = table.filter(compile_expr(expr, lambda n: table[n], ibis.now())).count().execute()
    assert matched == 2


def test_division_by_zero_is_missing_not_an_error() -> None:
    con = ibis.duckdb.connect()
    table = con.create_table("t", {"a": [1.0, 2.0], "b": [0.0, 4.0]})
    compiled = compile_expr(parse_expression("a / b"), lambda n: table[n], ibis.now())
    values = table.select(x=compiled).to_pandas()["x"].tolist()
    assert values[1] == 0.5
    assert values[0] != values[0]  # NaN: no data


def test_unknown_function_names_the_choices() -> None:
    with pytest.raises(ExpressionError, match="days_until"):
        parse_expression("sleep(10)")
