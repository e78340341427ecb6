"""Scenario suites: files that prepare a desktop, drive it, and check its end state.

`format` reads a scenario file; `stage` prepares a fresh `display` (a virtual display that can
see) or attaches to the desktop the file names (`desktop`: seeing through any backend), runs
scripted `steps` and the agent's task, then `checks`; `job` runs one scenario in one process;
`process` and `worker` put each job in a fresh process; `backend` runs many locally and `ray/`
on a cluster; `suite` finds, selects, repeats and tallies them; `junit` writes CI results.
"""
