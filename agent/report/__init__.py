"""Showing a run: a self-contained HTML page (`page`) and GIF/MP4 animations (`export`).

Everything here reads a run folder and nothing else; it never acts or asks a model.
"""
