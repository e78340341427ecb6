"""deskpilot as an MCP server: the raw tools (screenshot, act, list_windows) and the whole loop.

`session` owns the desktop of one server (one screen, one executor, one run folder that logs
every action); `server` turns it into MCP tools and resources with the official SDK.
"""
