"""A tool of your own beside the screen: the model reads a receipt off the screen and books it.

    python examples/custom_tool.py ledger.csv

`record_expense` is an ordinary typed function. The model is shown its name, docstring and
parameters, and calls it instead of typing into a spreadsheet; its arguments are checked
against the signature before it runs, and what it returns is what the model reads next.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from agent import Agent
from skills import tool


def ledger_tools(ledger: Path) -> list[object]:
    """The tools of this program, writing to `ledger`."""

    @tool
    def record_expense(amount: float, payee: str, category: str = "other") -> str:
        """Record an expense in the household ledger.

        Args:
            amount: what was paid, in euros
            payee: who was paid, as the receipt names them
            category: groceries, transport, home or other
        """
        if amount <= 0:
            raise ValueError("an expense is a positive amount")
        with ledger.open("a", newline="") as file:
            csv.writer(file).writerow([f"{amount:.2f}", payee, category])
        return f"recorded {amount:.2f} EUR to {payee} ({category})"

    return [record_expense]


def main() -> int:
    ledger = Path(sys.argv[1] if len(sys.argv) > 1 else "ledger.csv")
    agent = Agent.from_config("qwen3.7-plus", max_steps=15, tools=ledger_tools(ledger))
    outcome = agent.run("Book the receipt shown on the screen as an expense, then stop")
    print(f"{outcome.status}; ledger: {ledger.read_text() if ledger.exists() else '(empty)'}")
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
