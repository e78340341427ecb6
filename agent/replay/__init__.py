"""Recording a person and replaying a run folder without the model.

`record` turns raw input events (`input_events`) into canonical actions; `player` replays a run
folder, finding each target again with `locate` (template, OCR, window) before it acts.
"""
