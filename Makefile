# make demo   install what is missing, then run the bundled demo on a virtual desktop
# make test   install what is missing, then run the whole test suite (CI runs exactly this)
# make bench  agent step and replay on Xvfb against a naive pipeline, and what a run costs
#             per profile with prompt caching (benchmarks/results/)

PYTHON ?= python3
VENV := .venv
# GUI tests mostly wait on X and on applications, so three workers keep two cores busy.
TEST_WORKERS ?= 3
BIN := $(VENV)/bin

# Programs the desktop and its tests need, and the Debian packages that bring them.
# ip and unshare: the Ray tests run their clusters in a network namespace of their own.
# dbus-daemon, at-spi2-core and libatk-adaptor: each desktop's accessibility bus, and the
# bridge GTK 2 apps (pcmanfm) publish their tree through; FILES are checked like PROGRAMS.
# python3-tk: the Tk windows that log their own presses (benchmarks/, tests/apps/).
# sway: a headless wlroots compositor for the Wayland backend's tests, and foot, a native Wayland
# terminal for its window tests; python3-gi and GTK 3 for the window that logs its presses there
# (run by the system python3, /usr/bin/python3).
# x11vnc, TigerVNC's Xvnc (and its vncpasswd) and wayvnc (with openssl for its TLS key): the VNC
# backend's servers in its tests.
PROGRAMS := Xvfb openbox xdotool xclip xprop xwininfo xterm mousepad galculator pcmanfm tesseract chromium \
	ip unshare dbus-daemon sway foot x11vnc Xvnc vncpasswd wayvnc openssl
FILES := /usr/libexec/at-spi-bus-launcher /usr/lib/*/gtk-2.0/modules/libatk-bridge.so
APT_PACKAGES := xvfb openbox xdotool xclip x11-utils xterm mousepad galculator fonts-dejavu-core \
	pcmanfm tesseract-ocr chromium iproute2 util-linux dbus-daemon at-spi2-core libatk-adaptor \
	python3-tk sway foot python3-gi gir1.2-gtk-3.0 x11vnc tigervnc-standalone-server tigervnc-tools \
	wayvnc openssl

.PHONY: demo test bench lint system-deps venv venv-dev clean

demo: system-deps venv
	$(BIN)/deskpilot demo

test: system-deps venv-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=25

bench: system-deps venv
	$(BIN)/python benchmarks/bench.py

lint: venv-dev
	$(BIN)/ruff check agent skills tests benchmarks

system-deps:
	@missing=""; for p in $(PROGRAMS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	for f in $(FILES); do [ -e "$$f" ] || missing="$$missing $$f"; done; \
	$(PYTHON) -c 'import tkinter' 2>/dev/null || missing="$$missing tkinter"; \
	/usr/bin/python3 -c 'import gi; gi.require_version("Gtk", "3.0")' 2>/dev/null || missing="$$missing python3-gi"; \
	if [ -n "$$missing" ]; then \
		echo "installing desktop packages (missing:$$missing)"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	fi

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev,ray]'  # the Ray backend's tests run in CI too
	@touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache
