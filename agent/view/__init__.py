"""The live view: a run's desktop in a browser tab, with Pause, Resume, Take over and Stop.

Frames of our own, not x11vnc with noVNC and websockify: no extra daemons or system packages, so
the view runs wherever a run runs (Ray nodes included). Frames come from the same mss grabber and
JPEG encoder the agent uses (agent/perception), and a person's input is the same typed actions
(skills/computer.py) run by the same desktop code, so the run folder logs the person's actions in
the same form as the model's. Transport with what is installed already: starlette and uvicorn
(through mcp) serve an MJPEG stream (`multipart/x-mixed-replace`, which an <img> shows natively),
the state as JSON the page polls, and controls and input as JSON POSTs; no WebSocket library.
"""
