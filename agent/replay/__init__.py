"""Recording a person and replaying a run folder without the model.

`record` turns raw input events (`input_events`) into canonical actions; `player` replays a run
folder, settling only where `changes` shows the app answered, and finding each target again
with `locate` (in place, template, accessibility tree, OCR, window) before it acts.
"""
