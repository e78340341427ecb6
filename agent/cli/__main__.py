"""`python -m agent.cli`: the same as the `deskpilot` command."""

from agent.cli.main import main

raise SystemExit(main())
