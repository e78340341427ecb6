"""deskpilot: a perceive–plan–act agent that drives a desktop through a vision-language model."""

__version__ = "0.1.0"
