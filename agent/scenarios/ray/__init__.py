"""The Ray backend: scenarios as Ray tasks on a cluster (`backend`), the runtime environment that
carries deskpilot to each node (`env`), what a task does there (`node`), and the run folder's
way back with a checksum per file (`artifacts`).
"""
