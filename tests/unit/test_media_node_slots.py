"""Which direction a subscriber's m-line takes when the node starts or stops sending on it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from media_node.sfu.slots import released, sending


def _transceiver(current=None, offered=None):
    return SimpleNamespace(currentDirection=current, _offerDirection=offered)


@pytest.mark.parametrize("current, offered, send, release", [
    (None, "sendonly", "sendonly", "inactive"),   # a listener's recvonly offer
    (None, "sendrecv", "sendrecv", "recvonly"),   # a host's sendrecv offer: it publishes
    (None, None, "sendonly", "inactive"),         # added by the node's own offer
    ("sendonly", None, "sendonly", "inactive"),   # negotiated, the node only sends
    ("inactive", "sendonly", "sendonly", "inactive"),
    ("sendrecv", "sendrecv", "sendrecv", "recvonly"),
    ("recvonly", "sendrecv", "sendrecv", "recvonly"),  # released, the host still sends
])
def test_the_subscribers_own_sending_is_kept(current, offered, send, release):
    transceiver = _transceiver(current, offered)
    assert sending(transceiver) == send
    assert released(transceiver) == release
