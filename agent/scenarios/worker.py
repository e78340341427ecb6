"""`python -m agent.scenarios.worker JOB_FILE`: run one scenario in a fresh process, then exit."""

import sys

from agent.scenarios.process import die_with_launcher
from agent.scenarios.run import main

if __name__ == "__main__":
    die_with_launcher()
    sys.exit(main(sys.argv[1]))
