"""Talking to the model: the chat-completions client and everything about one request.

`client` is the Model seam (httpx, streaming in `stream`, retries in `retry`, typed API errors
from `faults`); `prompt` builds the conversation; `ask` asks for one step with the fixes a
refusal allows; `budget` counts time, tokens and cost; `scripted` is a real OpenAI-compatible
server on 127.0.0.1 that answers from a script, for demos and tests.
"""
