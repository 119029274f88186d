"""What the direct path takes from pylibsrtp 1.0 beyond its public API.

The fan-out protects each packet in place in one shared buffer, and the C loop calls
``srtp_protect`` itself; both need libsrtp's own function and a session's ``srtp_t``,
which pylibsrtp keeps private (its ``Session.protect`` copies every packet twice).
"""
from __future__ import annotations

from pylibsrtp import _binding

# (where, attribute): checked by tests/unit/test_media_node_internals.py
RELIED_ON = (
    ("pylibsrtp._binding", "ffi"),
    ("pylibsrtp._binding", "lib"),
    ("pylibsrtp._binding.lib", "srtp_protect"),
    ("pylibsrtp.Session", "_srtp"),
)

ffi = _binding.ffi
srtp_protect = _binding.lib.srtp_protect
#: ``srtp_protect``'s address, for the C loop
PROTECT_ADDRESS = int(ffi.cast("uintptr_t", ffi.addressof(_binding.lib, "srtp_protect")))


def srtp_session(session):
    """The ``srtp_t`` of a pylibsrtp session: same packet index state as aiortc uses."""
    return session._srtp[0]


def address(cdata) -> int:
    """A cffi pointer as an integer (what the C loop takes)."""
    return int(ffi.cast("uintptr_t", cdata))
