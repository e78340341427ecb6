"""VeNCrypt (RFB security type 19): which TLS subtype to take, and the TLS context for it.

Subtypes spoken, best first: X509 (TLS whose certificate is checked against the host in the URL,
with the system's authorities or the PEM file in $DESKPILOT_VNC_CA), then anonymous TLS (the
stream is encrypted, the server is not verified: still more than plain RFB). Each comes with the
VNC password inside the TLS session, or with none. Plain, TLSPlain and X509Plain send a user
name, which a desktop URL does not hold, and are not taken.
"""

from __future__ import annotations

import os
import ssl

VENCRYPT = 19
TLS_NONE, TLS_VNC, X509_NONE, X509_VNC = 257, 258, 260, 261
NAMES = {
    256: "Plain",
    257: "TLSNone",
    258: "TLSVnc",
    259: "TLSPlain",
    260: "X509None",
    261: "X509Vnc",
    262: "X509Plain",
}
WITH_PASSWORD = frozenset({TLS_VNC, X509_VNC})
CA_ENV = "DESKPILOT_VNC_CA"


def choose(offered: list[int], *, has_password: bool) -> int | None:
    """The subtype to take: a checked certificate first, the password's kind first."""
    if has_password:
        order = (X509_VNC, X509_NONE, TLS_VNC, TLS_NONE)
    else:
        order = (X509_NONE, X509_VNC, TLS_NONE, TLS_VNC)
    return next((subtype for subtype in order if subtype in offered), None)


def described(subtype: int) -> str:
    """The security the log and `ServerInfo` name, saying when the server is not verified."""
    name = f"VeNCrypt {NAMES[subtype]}"
    return name if subtype >= X509_NONE else f"{name} (anonymous TLS: the server is not verified)"


def context(subtype: int) -> ssl.SSLContext:
    """The TLS context for `subtype`: certificates checked for X509, none offered for TLS."""
    if subtype >= X509_NONE:
        return ssl.create_default_context(cafile=os.environ.get(CA_ENV) or None)
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname = False
    anonymous.verify_mode = ssl.CERT_NONE
    # Anonymous key exchange exists only up to TLS 1.2, and OpenSSL allows it at level 0 only.
    anonymous.maximum_version = ssl.TLSVersion.TLSv1_2
    anonymous.set_ciphers("aNULL:!eNULL:@SECLEVEL=0")
    return anonymous
