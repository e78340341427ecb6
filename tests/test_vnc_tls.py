"""VNC over TLS (VeNCrypt) against TigerVNC's Xvnc: X509 with its certificate checked, anonymous
TLS, the VNC password inside the session, and the ways it fails, each in one line."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_desktop_vnc import (
    CANARY,
    SECRETS,
    WINDOW,
    WRONG,
    Server,
    password_file,
    presses,
    show_xev,
    start_xvnc,
    wait_until,
)

from agent.desktops.vnc import VncBackend
from agent.desktops.vnc.errors import VncAuthFailed, VncUnsupported, VncUntrusted
from agent.desktops.vnc.vencrypt import TLS_NONE, TLS_VNC, X509_NONE, X509_VNC, choose

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        not (shutil.which("Xvnc") and shutil.which("openssl")),
        reason="needs TigerVNC's Xvnc and openssl (installed by `make test`)",
    ),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def x509(
    certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Xvnc that speaks only VeNCrypt X509Vnc (the password CANARY), with xev on it."""
    folder = tmp_path_factory.mktemp("x509")
    cert, key = certificate
    tls = ["-X509Cert", str(cert), "-X509Key", str(key)]
    served = start_xvnc(folder, password_file(folder), security="X509Vnc", more=tls)
    show_xev(served, folder)
    yield served
    served.stop()


def test_x509_with_its_certificate_trusted_carries_frames_and_clicks(
    x509: Server, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKPILOT_VNC_CA", str(certificate[0]))
    monkeypatch.setenv("DESKPILOT_VNC_PASSWORD", CANARY)
    with VncBackend(x509.url) as opened:
        assert opened.security == "VeNCrypt X509Vnc"
        assert opened.grab().size == (1280, 800)
        x, y = WINDOW[0] + 100, WINDOW[1] + 50
        opened.input().click(x, y, button="left", clicks=1)
        assert x509.xev_log is not None
        assert wait_until(lambda: (x, y, 1) in presses(x509.xev_log.read_text()), 5)


def test_x509_with_an_unknown_certificate_is_refused_in_one_line(
    x509: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DESKPILOT_VNC_CA", raising=False)
    monkeypatch.setenv("DESKPILOT_VNC_PASSWORD", CANARY)
    with pytest.raises(VncUntrusted) as caught:
        VncBackend(x509.url)
    said = str(caught.value)
    assert "cannot trust" in said and "$DESKPILOT_VNC_CA" in said and "\n" not in said
    assert not any(secret in said for secret in SECRETS)


@pytest.mark.parametrize("password", [CANARY, None], ids=["TLSVnc", "TLSNone"])
def test_anonymous_tls_connects_and_says_the_server_is_not_verified(
    password: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = "TLSVnc" if password else "TLSNone"
    served = start_xvnc(tmp_path, password_file(tmp_path) if password else None, security=kind)
    try:
        if password:
            monkeypatch.setenv("DESKPILOT_VNC_PASSWORD", password)
        else:
            monkeypatch.delenv("DESKPILOT_VNC_PASSWORD", raising=False)
        with VncBackend(served.url) as opened:
            assert opened.security.startswith(f"VeNCrypt {kind} (anonymous TLS")
            started = time.monotonic()
            frame = opened.grab()
            assert frame.size == (1280, 800) and time.monotonic() - started < 5
    finally:
        served.stop()


def test_a_wrong_password_inside_tls_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = start_xvnc(tmp_path, password_file(tmp_path), security="TLSVnc")
    try:
        monkeypatch.setenv("DESKPILOT_VNC_PASSWORD", WRONG)
        with pytest.raises(VncAuthFailed) as caught:
            VncBackend(served.url)
        said = str(caught.value)
        assert "refused the password" in said and "\n" not in said
        assert not any(secret in said for secret in SECRETS)
    finally:
        served.stop()


def test_subtypes_that_send_a_user_name_are_named_and_not_taken(tmp_path: Path) -> None:
    served = start_xvnc(tmp_path, None, security="TLSPlain")
    try:
        with pytest.raises(VncUnsupported, match="offers VeNCrypt with TLSPlain; deskpilot takes"):
            VncBackend(served.url)
    finally:
        served.stop()


def test_a_checked_certificate_comes_first_and_the_password_decides_the_kind() -> None:
    every = [TLS_NONE, TLS_VNC, X509_NONE, X509_VNC, 256]
    assert choose(every, has_password=True) == X509_VNC
    assert choose(every, has_password=False) == X509_NONE
    assert choose([TLS_NONE, TLS_VNC], has_password=True) == TLS_VNC
    assert choose([X509_VNC], has_password=False) == X509_VNC  # then: no password, one line
    assert choose([256, 259, 262], has_password=True) is None
