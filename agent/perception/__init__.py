"""Seeing the screen: capture and settle (`screen`), when it was repainted (`damage`), resize and
encode (`imaging`), coordinate spaces (`coords`), and the evidence replay needs to find a target
again (`evidence`).

The Screen seam lives here. These modules know pixels and displays, never models or prompts.
"""
