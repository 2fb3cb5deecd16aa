"""The calculator tool: values, formatting, the notations people write, error messages,
and LangChain's standard tool tests."""

from __future__ import annotations

import math

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from ahora.errors import ToolFailure
from ahora.tools.calculator import calculator, evaluate, format_number


def run(expression: str) -> str:
    result = calculator.invoke({"expression": expression})
    assert isinstance(result, str)
    return result


def value_of(expression: str) -> str:
    """The shown value: the text after ' = '."""
    result = run(expression)
    assert not result.startswith("Error:"), result
    shown, sep, value = result.rpartition(" = ")
    assert sep, result
    assert shown == " ".join(expression.split())
    return value


class TestCalculatorStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return calculator

    @property
    def tool_invoke_params_example(self) -> dict[str, str]:
        return {"expression": "2^10"}


def test_tool_contract() -> None:
    assert calculator.name == "calculator"
    assert list(calculator.args) == ["expression"]
    assert "math expression" in calculator.args["expression"]["description"]
    assert "15% of 80" in calculator.description
    assert run("2^10") == "2^10 = 1024"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # arithmetic and precedence
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3.5"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("10 / 2", "5"),
        ("2 ** 10", "1024"),
        ("2^10", "1024"),
        ("2^3^2", "512"),
        ("-2^2", "-4"),
        ("(-2)^2", "4"),
        ("--3", "3"),
        ("+5", "5"),
        ("2 ^ -1", "0.5"),
        ("4^0.5", "2"),
        ("0.1 + 0.2", "0.3"),
        ("1/3", "0.333333333333"),
        ("2/3", "0.666666666667"),
        ("10 % 3", "1"),
        ("10%3", "1"),
        ("-7 % 3", "2"),
        ("5.5 % 2", "1.5"),
        ("10 % (4 - 1)", "1"),
        # exact integers
        ("2**100", "1267650600228229401496703205376"),
        ("10**20", "100000000000000000000"),
        ("10**30 / 10**10", "100000000000000000000"),
        ("99999999999999999999 + 1", "100000000000000000000"),
        ("factorial(25)", "15511210043330985984000000"),
        ("5!", "120"),
        ("(2+1)!", "6"),
        ("3!!", "720"),
        ("2^3!", "64"),
        # scientific notation and float display
        ("1.5e3", "1500"),
        ("2.5E-3 * 2", "0.005"),
        ("1e-5", "1e-05"),
        ("1e15", "1e+15"),
        ("1e20 * 3", "3e+20"),
        ("123456789.123", "123456789.123"),
        ("0.1 * 3", "0.3"),
        ("-0.0", "0"),
        # functions
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.41421356237"),
        ("sqrt(10**40)", "100000000000000000000"),
        ("log(e)", "1"),
        ("log(8, 2)", "3"),
        ("log(1000, 10)", "3"),
        ("ln(1)", "0"),
        ("log10(1000)", "3"),
        ("log2(1024)", "10"),
        ("exp(0)", "1"),
        ("exp(1)", "2.71828182846"),
        ("sin(pi / 2)", "1"),
        ("cos(0)", "1"),
        ("tan(pi / 4)", "1"),
        ("sin(pi)", "1.22464679915e-16"),
        ("asin(1)", "1.57079632679"),
        ("acos(1)", "0"),
        ("atan(1) * 4", "3.14159265359"),
        ("atan2(1, 1)", "0.785398163397"),
        ("degrees(pi)", "180"),
        ("radians(180)", "3.14159265359"),
        ("abs(-3)", "3"),
        ("abs(-2.5)", "2.5"),
        ("round(2.5)", "3"),
        ("round(-2.5)", "-3"),
        ("round(2.675, 2)", "2.68"),
        ("round(1234, -2)", "1200"),
        ("round(3.14159, 3)", "3.142"),
        ("floor(2.7)", "2"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("max(2)", "2"),
        ("hypot(3, 4)", "5"),
        ("pow(2, 8)", "256"),
        ("factorial(0)", "1"),
        ("factorial(5.0)", "120"),
        # names are case-insensitive; constants
        ("PI", "3.14159265359"),
        ("Sqrt(9)", "3"),
        ("e", "2.71828182846"),
        ("tau / 2", "3.14159265359"),
        # percentages
        ("15% of 80", "12"),
        ("15 % of 80", "12"),
        ("80 * 15%", "12"),
        ("15% * 80", "12"),
        ("12.5% of 80", "10"),
        ("200 + 10%", "220"),
        ("200 - 10%", "180"),
        ("(100 + 50) * 2 + 10%", "330"),
        ("100 / 4%", "2500"),
        ("15%", "0.15"),
        ("50% + 50%", "1"),
        ("200 + 10% of 50", "205"),
        ("max(10%, 0.05)", "0.1"),
        ("(1 + 2)%", "0.03"),
        # thousands separators outside calls; commas as separators inside calls
        ("1,000", "1000"),
        ("1,000,000 * 2", "2000000"),
        ("1,234.5 + 0.5", "1235"),
        ("(1,000 + 5) * 2", "2010"),
        ("max(1,2)", "2"),
        ("max(1,234)", "234"),
        ("min(1, 2, 3)", "1"),
        ("max((1,000), 2)", "1000"),
        ("1_000 + 1", "1001"),
        # people's symbols and whitespace
        ("3 × 4 ÷ 2 − 1", "5"),
        ("2π", None),
        ("2*π", "6.28318530718"),
        ("  1 +\n 2\t", "3"),
    ],
)
def test_values(expression: str, expected: str | None) -> None:
    if expected is None:
        assert run(expression).startswith("Error:")
    else:
        assert value_of(expression) == expected


def test_evaluate_returns_numbers() -> None:
    assert evaluate("2^10") == 1024
    assert isinstance(evaluate("2^10"), int)
    assert evaluate("10 / 4") == 2.5
    assert evaluate("sqrt(2)") == pytest.approx(math.sqrt(2))
    assert evaluate("factorial(100)") == math.factorial(100)
    with pytest.raises(ToolFailure, match="division by zero"):
        evaluate("1/0")


def test_big_integers_exact_up_to_a_thousand_digits() -> None:
    assert value_of("10**999") == "1" + "0" * 999
    assert value_of("factorial(400)") == str(math.factorial(400))
    # Past 1,000 digits the value is shown rounded, with its size.
    assert run("factorial(1000)") == "factorial(1000) ≈ 4.02387260077e+2567 (2,568 digits)"
    assert run("-(10**1000)") == "-(10**1000) ≈ -1e+1000 (1,001 digits)"
    assert run("10**9999") == "10**9999 ≈ 1e+9999 (10,000 digits)"


def test_format_number() -> None:
    assert format_number(0.30000000000000004) == "0.3"
    assert format_number(5.0) == "5"
    assert format_number(-0.0) == "0"
    assert format_number(1e12) == "1e+12"
    assert format_number(999999999999.0) == "999999999999"
    assert format_number(10**20) == "100000000000000000000"
    assert format_number(2**-30) == "9.31322574615e-10"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ^ -1", "division by zero"),
        ("sqrt(-1)", "sqrt(-1) is undefined (math domain error)"),
        ("log(0)", "log(0) is undefined"),
        ("log(-2, 10)", "log(-2, 10) is undefined"),
        ("log(2, 1)", "base cannot be 1"),
        ("asin(2)", "asin(2) is undefined"),
        ("exp(1000)", "exp(1000) overflows"),
        ("1e308 * 10", "too large for a float"),
        ("1e400", "too large for a float"),
        ("10**400 / 3", "too large for a float"),
        ("(-8) ^ (1/3)", "not a real number"),
        ("factorial(-1)", "whole numbers >= 0"),
        ("factorial(2.5)", "must be a whole number, got 2.5"),
        ("factorial(1001)", "limited to arguments up to 1000"),
        ("round(1.5, 101)", "at most 100 places"),
        ("2 ^ 100000", "about 30,103 digits (limit 10,000)"),
        ("sqrt(1, 2)", "sqrt() takes 1 argument(s), got 2"),
        ("log(1, 2, 3)", "log() takes 1 or 2 argument(s), got 3"),
        ("max()", "max() takes at least 1 argument(s), got 0"),
        ("sqrt(1,000)", "got 2 (inside a call, commas separate arguments: write 1000"),
        ("foo(1)", "unknown function 'foo'. Available: sqrt, log"),
        ("x + 1", "unknown name 'x'. Known constants: pi, e, tau"),
        ("sqrt + 1", "'sqrt' is a function: call it"),
        ("1,00", "a comma is only allowed between a function's arguments"),
        ("1, 000", "a comma is only allowed"),
        ("of 80", "'of' is only understood after a percentage"),
        ("10 of 80", "'of' is only understood after a percentage"),
        ("!5", "'!' must follow a number"),
        ("(1 + 2", "'(' was never closed"),
        ("1 + 2)", "unmatched ')'"),
        ("1 +", "could not read the expression"),
        ("2 3", "could not read the expression"),
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("1 + 1j", "complex numbers"),
        ("(1).real", "attribute access"),
        ("True + 1", "unknown name 'true'"),
        ("not 1", "the operator not is not allowed"),
        ("1 if 1 else 2", "conditional expressions"),
        ("1 and 2", "'and' / 'or' are not allowed"),
        ("a[1]", "square brackets"),
        ("2 ≤ 3", "'≤' (U+2264) is not allowed"),
        ("٣ + 1", "the digit '٣' (U+0663) is not allowed: write numbers with ASCII digits"),
        ("1\x00", "the non-printing character U+0000 is not allowed"),
        ("_x", "names starting with '_' are not allowed"),
    ],
)
def test_error_messages(expression: str, message: str) -> None:
    result = run(expression)
    assert result.startswith("Error: "), result
    assert message in result


def test_long_input_refused() -> None:
    assert run("1+" * 250 + "1") == "Error: the expression is longer than 500 characters"
    # 500 characters are fine when the tree stays small enough.
    assert value_of("1" * 400 + " * 0 + " + "7") == "7"


def test_tree_limits() -> None:
    assert "nested too deeply" in run("-" * 150 + "1")
    assert "more than 30 nested parentheses" in run("(" * 31 + "1" + ")" * 31)
    assert value_of("(" * 30 + "1" + ")" * 30) == "1"
    assert value_of("+".join(["1"] * 90)) == "90"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0^0", "0^0 = 1"),  # by convention (and Python's), not a division by zero
        ("0^2", "0^2 = 0"),
        ("10^9999", "10^9999 ≈ 1e+9999 (10,000 digits)"),
        ("-(10^9999)*9", "-(10^9999)*9 ≈ -9e+9999 (10,000 digits)"),
        ("(-10)^9999", "(-10)^9999 ≈ -1e+9999 (10,000 digits)"),
        ("2^33219", "2^33219 ≈ 8.23049512075e+9999 (10,000 digits)"),
        ("round(1, -100)", "round(1, -100) = 0"),
        ("round(1234, -2)", "round(1234, -2) = 1200"),
        ("round(-2.5)", "round(-2.5) = -3"),
        ("round(1.5, 100)", "round(1.5, 100) = 1.5"),
        ("factorial(0)", "factorial(0) = 1"),
        ("10^30/10^10", "10^30/10^10 = 100000000000000000000"),
        ("log(8, 2)", "log(8, 2) = 3"),
        ("(-2)^2.0", "(-2)^2.0 = 4"),  # a whole float power of a negative number is real
        ("max(1, 2) + 1,000", "max(1, 2) + 1,000 = 1002"),  # after the call: a separator
        ("-" * 99 + "1", "-" * 99 + "1 = -1"),  # 100 levels deep: the limit, allowed
    ],
)
def test_values_at_the_limits(expression: str, expected: str) -> None:
    assert run(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # the digit limit holds for negative results too
        ("-(10^9999)*10", "the result would have more than 10,000 digits"),
        ("(10^9999)*10", "the result would have more than 10,000 digits"),
        ("-(10^9999)-10^9999*9", "the result would have more than 10,000 digits"),
        ("10^10000", "the result would have more than 10,000 digits"),
        ("(-10)^10001", "the result would have more than 10,000 digits"),
        ("2^33220", "the result would have more than 10,000 digits"),
        ("(10^9999)*(10^9999)", "the result would have more than 10,000 digits"),
        # the limit on places holds for negative places too
        ("round(1, -1000)", "round() takes at most 100 places"),
        ("round(1, -101)", "round() takes at most 100 places"),
        ("0^-2", "division by zero (0 to a negative power)"),
        # an exponent of 1,000 bits or more is not even estimated
        ("2^(2^999)", "the result would have far too many digits (limit 10,000)"),
        ("(-8) ^ (1/3)", "a negative number to a fractional power is not a real number"),
        ("-" * 100 + "1", "the expression is nested too deeply (more than 100)"),
        ("1,", "a comma is only allowed between a function's arguments or in a number like 1,000"),
    ],
)
def test_limits_refuse_before_computing(expression: str, message: str) -> None:
    assert run(expression) == f"Error: {message}"
