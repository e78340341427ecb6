"""The Android backend: a phone the adb server sees, over adbutils (the adb protocol in Python).

url.py       adb:, adb:SERIAL, adb:HOST:PORT, and nothing else
connect.py   the adb server (started when none answers), `adb connect`, picking the phone
shell.py     the one way a command reaches the phone: an argv list, each word quoted
capture.py   `exec-out screencap -p` as a Frame
phone.py     skills.desktop's Phone: taps, swipes, keys, text, system buttons, apps
keys.py      key names as Android keycodes
text.py      text as `input text` (ASCII) or ADBKeyboard broadcasts (any Unicode)
apps.py      which installed package an app name means
windows.py   the focused app, from `dumpsys window`
elements.py  the accessibility elements, from a `uiautomator dump`
backend.py   AdbBackend, the seam's Backend
errors.py    one clear line for each way it fails

Nothing here imports adbutils until a phone is opened: `import agent` and parsing an adb: URL
stay quick.
"""
