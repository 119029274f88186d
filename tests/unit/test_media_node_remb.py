"""REMB cap schedule, its setting, the lean loss bookkeeping and the socket RTP path."""
from __future__ import annotations

import random

import pytest
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import RtpPacket

from media_node.config import DEFAULT_PUBLISHER_MAX_BITRATE, NodeConfig
from media_node.sfu.remb import RembSchedule
from media_node.sfu.rxpath import NackList, ReceiveStatistics

ENV = {"DROPON_NODE_SECRET": "s" * 32}


def test_the_cap_goes_out_at_the_first_packet_then_once_per_interval():
    schedule = RembSchedule(1_500_000, interval_ms=1000)
    assert schedule.due(5_000)  # on connect
    assert not any(schedule.due(t) for t in range(5_001, 6_000, 7))
    assert schedule.due(6_000)
    assert not schedule.due(6_500)
    assert schedule.due(9_000)  # after a silence: at once, then every second again
    assert not schedule.due(9_999) and schedule.due(10_000)


def test_a_zero_cap_is_never_sent():
    schedule = RembSchedule(0)
    assert not any(schedule.due(t) for t in range(0, 10_000, 100))


def test_the_setting_defaults_to_1_5_mbps_and_is_read_from_the_environment():
    assert NodeConfig.from_env(ENV).publisher_max_bitrate == DEFAULT_PUBLISHER_MAX_BITRATE
    assert DEFAULT_PUBLISHER_MAX_BITRATE == 1_500_000
    env = {**ENV, "DROPON_PUBLISHER_MAX_BITRATE": "2500000"}
    assert NodeConfig.from_env(env).publisher_max_bitrate == 2_500_000
    assert NodeConfig.from_env({**ENV, "DROPON_PUBLISHER_MAX_BITRATE": "0"}) \
        .publisher_max_bitrate == 0


@pytest.mark.parametrize("value", ["1.5M", "abc", "-1", "49999", "50000001"])
def test_a_bad_cap_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="DROPON_PUBLISHER_MAX_BITRATE"):
        NodeConfig.from_env({**ENV, "DROPON_PUBLISHER_MAX_BITRATE": value})


def _arrivals(seed: int, count: int = 3000):
    """(seq, timestamp, arrival_ms): loss, reordering, duplicates, a sequence wrap."""
    rng = random.Random(seed)
    seq, ts, now, out = 65_000, 1000, 0, []
    for _ in range(count):
        seq, now = (seq + 1) & 0xFFFF, now + rng.randint(0, 40)
        ts = (ts + (3000 if rng.random() < 0.3 else 0)) & 0xFFFFFFFF
        if rng.random() < 0.05:
            continue  # lost
        out.append((seq, ts, now))
        if rng.random() < 0.03:
            out.append(out[-1])  # duplicate
    for i in range(0, len(out) - 1, 37):  # reorder some neighbours
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_receive_statistics_match_aiortcs_for_loss_and_sequence(seed, monkeypatch):
    ours, theirs = ReceiveStatistics(90000), StreamStatistics(90000)
    clock = {"now": 0.0}
    monkeypatch.setattr("aiortc.rtcrtpreceiver.time.time", lambda: clock["now"])
    for i, (seq, ts, now) in enumerate(_arrivals(seed)):
        clock["now"] = now / 1000
        ours.add_rtp(seq, ts, now)
        theirs.add(RtpPacket(sequence_number=seq, timestamp=ts))
        if i % 200 == 0:  # a receiver report
            assert ours.fraction_lost == theirs.fraction_lost
    for name in ("packets_received", "packets_expected", "packets_lost", "max_seq",
                 "cycles", "base_seq"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.packets_lost > 0 and ours.cycles == 1 << 16
    assert abs(ours.jitter - theirs.jitter) <= 1


@pytest.mark.parametrize("seed", [4, 5])
def test_nack_list_matches_aiortcs_generator(seed):
    ours, theirs = NackList(), NackGenerator()
    for seq, _, _ in _arrivals(seed):
        assert ours.add(seq) == theirs.add(RtpPacket(sequence_number=seq))
        assert ours.missing == theirs.missing
    assert ours.missing


class _Queue:
    def __init__(self):
        self.items = []

    def empty(self):
        return not self.items


class _Srtp:
    def unprotect(self, data):
        if data.endswith(b"BAD"):
            import pylibsrtp
            raise pylibsrtp.Error("auth")
        return b"clear:" + data


class _Dtls:
    """The parts of aiortc's RTCDtlsTransport and aioice's Connection the path touches."""

    def __init__(self):
        self.protocol = type("Protocol", (), {})()
        self.slow = []
        self.protocol.datagram_received = lambda data, addr: self.slow.append(data)
        connection = type("Connection", (), {})()
        connection._protocols, connection._queue = [self.protocol], _Queue()
        self.transport = type("Ice", (), {"_connection": connection})()
        self._rtp_router = type("Router", (), {"ssrc_table": {}})()
        self._rx_srtp = _Srtp()
        self._RTCDtlsTransport__rx_packets = self._RTCDtlsTransport__rx_bytes = 0


def _rtp(ssrc: int, tail: bytes = b"payload") -> bytes:
    return bytes([0x80, 96, 0, 1, 0, 0, 0, 9]) + ssrc.to_bytes(4, "big") + tail


def test_socket_path_takes_only_claimed_srtp_of_the_mapped_receiver():
    from media_node.sfu.rxpath import SocketRtpPath
    dtls, receiver, got = _Dtls(), object(), []
    path = SocketRtpPath.of(dtls)
    assert SocketRtpPath.of(dtls) is path  # one per transport
    dtls._rtp_router.ssrc_table[7] = receiver
    dtls.transport._connection._queue.items.append("earlier packet")
    assert not path.claim(7, receiver, got.append)  # aiortc's queue must drain first
    dtls.transport._connection._queue.items.clear()
    assert path.claim(7, receiver, got.append)

    received = dtls.protocol.datagram_received
    rtcp = bytes([0x80, 200]) + bytes(20)
    for data in (_rtp(7), _rtp(8), rtcp, b"\x00\x01stun", _rtp(7, b"BAD")):
        received(data, ("127.0.0.1", 1))
    assert got == [b"clear:" + _rtp(7)]
    assert dtls.slow == [_rtp(8), rtcp, b"\x00\x01stun"]  # aiortc's path, unchanged
    assert dtls._RTCDtlsTransport__rx_packets == 2  # the forged one counts, as in aiortc

    dtls._rtp_router.ssrc_table[7] = object()  # renegotiated away: aiortc decides again
    received(_rtp(7), ("127.0.0.1", 1))
    assert len(got) == 1 and dtls.slow[-1] == _rtp(7)


def test_a_failing_handler_never_reaches_the_socket():
    from media_node.sfu.rxpath import SocketRtpPath
    dtls, receiver = _Dtls(), object()
    dtls._rtp_router.ssrc_table[7] = receiver
    SocketRtpPath.of(dtls).claim(7, receiver, lambda data: 1 / 0)
    dtls.protocol.datagram_received(_rtp(7), ("127.0.0.1", 1))  # logged, not raised
