"""How fast the calculator refuses hostile input, and how fast it answers ordinary input.

Run from the repository root: ``python benchmarks/bench_calculator.py``. It replays the
hostile corpus of tests/tools/test_calculator_hostile.py through the LangChain tool
(``calculator.invoke``), timing each string (the median of a few runs, so one hiccup
of a busy machine does not count as its cost), and prints a table. The goal is every
string answered within 50 ms; "escaped" counts strings that were not refused with an
"Error:" message, raised, or created the sentinel file. Exits 1 if any escaped.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tools.test_calculator_hostile import HOSTILE  # noqa: E402

from ahora.tools.calculator import calculator  # noqa: E402

GOAL_MS = 50.0
RUNS = 5
ORDINARY = [
    "2^10",
    "15% of 80",
    "200 + 10%",
    "sqrt(2) * 3^2",
    "1,000,000 * 1.07^10",
    "round(log(1000, 10) + sin(pi / 6), 3)",
    "factorial(100)",
    "max(3, 1, 2) / 7",
]


def time_one(expression: str, sentinel: Path) -> tuple[float, str]:
    runs: list[float] = []
    result = ""
    for _ in range(RUNS):
        started = time.perf_counter()
        try:
            result = str(calculator.invoke({"expression": expression}))
        except Exception as exc:  # an exception escaping the tool counts as an escape
            result = f"RAISED {type(exc).__name__}: {exc}"
        runs.append(time.perf_counter() - started)
    if sentinel.exists():
        result = "SENTINEL CREATED"
    return statistics.median(runs) * 1000, result


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        sentinel = Path(tmp) / "escaped"
        timings: list[tuple[float, str, str]] = []
        for attack in HOSTILE:
            ms, result = time_one(attack.replace("{sentinel}", str(sentinel)), sentinel)
            timings.append((ms, attack, result))
        ordinary = [time_one(expression, sentinel)[0] for expression in ORDINARY]

    refused = [t for t in timings if t[2].startswith("Error: ")]
    escaped = [t for t in timings if not t[2].startswith("Error: ")]
    values = [ms for ms, _, _ in timings]
    over_goal = [t for t in timings if t[0] > GOAL_MS]
    rows = [
        ("hostile strings tried", f"{len(timings)}"),
        ("refused with Error:", f"{len(refused)}"),
        ("escaped", f"{len(escaped)}"),
        ("max ms", f"{max(values):.3f}"),
        ("median ms", f"{statistics.median(values):.3f}"),
        (f"over {GOAL_MS:.0f} ms", f"{len(over_goal)}"),
        ("ordinary expressions, median ms", f"{statistics.median(ordinary):.3f}"),
        ("ordinary expressions, max ms", f"{max(ordinary):.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"calculator (median of {RUNS} runs per string, through calculator.invoke)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    print("  slowest hostile strings:")
    for ms, attack, result in sorted(timings, reverse=True)[:5]:
        print(f"    {ms:8.3f} ms  {attack[:40]!r:<44} {result[:60]}")
    for ms, attack, result in escaped:
        print(f"  ESCAPED: {attack!r} -> {result!r} ({ms:.3f} ms)")
    return 1 if escaped else 0


if __name__ == "__main__":
    raise SystemExit(main())
