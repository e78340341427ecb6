"""`python -m agent.scenarios.worker JOB_FILE`: run one scenario in a fresh process, then exit."""

import sys

from agent.scenarios.job import main
from agent.scenarios.process import die_with_launcher

if __name__ == "__main__":
    die_with_launcher()
    sys.exit(main(sys.argv[1]))
