"""Desktop backends: one folder per kind of desktop, each behind the seam of base.py.

Nothing above the seam imports a backend, and backends do not import each other
(tests/test_layers.py checks both). Today's X11 code moves here as the first backend.
"""
