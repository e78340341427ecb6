"""Run a task from Python and follow it step by step.

    export DESKPILOT_API_KEY=sk-...      # the qwen3.7-plus preset's key (configs/)
    python examples/run_with_callback.py "Open the text editor and write a haiku about autumn"

The run happens on $DISPLAY; its run folder (screenshots, every step) goes to runs/.
"""

from __future__ import annotations

import sys

from agent import Agent, Step


def show(step: Step) -> None:
    """Called after every step, in the thread that runs the task."""
    done = "; ".join(step.actions) or f"(mistake: {step.error})"
    print(f"step {step.number}: {done}  [{step.usage.prompt_tokens} prompt tokens]")


def main() -> int:
    task = " ".join(sys.argv[1:]) or "Open the text editor and write a haiku about autumn"
    agent = Agent.from_config("qwen3.7-plus", max_steps=20, on_step=show)
    outcome = agent.run(task)
    print(f"{outcome.status} after {outcome.steps} steps; answer: {outcome.answer}")
    print(f"run folder: {outcome.folder}")
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
