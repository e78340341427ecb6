"""The X side of the desktop: virtual displays (Xvfb + openbox) and their applications
(`virtual`), the top-level windows of a display (`windows`), and processes that must never
outlive their owner (`processes`).

Vocabulary: a *display* is an X server; the *desktop interface* (`skills.desktop.Desktop`) is
how actions reach one; a scenario's handle on its display is `scenarios.display.ScenarioDisplay`.
"""
