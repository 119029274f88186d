"""Receive liveness: a connected peer the node has not heard from for a while is gone.

A laptop that lost its Wi-Fi sends nothing: no ICE, no RTCP, no DTLS close. Every live
WebRTC peer sends something at least every few seconds: RTP when it publishes, RTCP
receiver reports (~1/s) when it receives, ICE consent checks (~5 s) in any case. So a
session whose ICE transport has received nothing for ``timeout`` seconds is ended
(reason ``silent``), the way pion/ice fails a selected pair from its last-received time.

The per-packet cost is nil: the watchdog samples counters that already exist
(``RTCDtlsTransport``'s received-packet counter, behind ``getStats``'s
``packetsReceived``: every DTLS, SRTP and SRTCP datagram) plus two it keeps for STUN
(authenticated checks from the peer, answers to the node's consent checks), which are
only a few per 5 s. One coarse timer per node compares them with the previous sample.

Known limit: the DTLS counter counts datagrams before they are authenticated, so
traffic spoofed to a session's port would keep it alive.
"""
from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Callable

from ..internals import aioice_internals, aiortc_internals

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)
CONFIRM_DELAY = 0.1


class _Peer:
    """What the watchdog knows of one connected session."""

    __slots__ = ("session", "dtls", "stun", "count", "heard", "suspect", "consent_task")

    def __init__(self, session: "Session", dtls: list, now: float) -> None:
        self.session = session
        self.dtls = dtls
        self.stun = 0  # authenticated STUN from the peer, answered consent checks
        self.count = self.received()
        self.heard = now
        self.suspect = False
        self.consent_task = None

    def received(self) -> int:
        """Datagrams received so far on the session's transports."""
        return sum(aiortc_internals.received_packets(t) for t in self.dtls) + self.stun


class ReceiveLiveness:
    """Ends sessions whose peer has been silent for ``timeout`` seconds.

    :param timeout: seconds without any datagram from the peer (``DROPON_SILENT_TIMEOUT``).
    :param on_silent: called with the session; the node ends it.
    :param interval: seconds between samples; by default a quarter of ``timeout``, at
        most 1 s, so a peer is ended ``timeout`` to ``timeout + interval`` s after its
        last datagram.
    """

    def __init__(self, timeout: float, on_silent: Callable[["Session"], None],
                 interval: float | None = None) -> None:
        self.timeout = timeout
        self.interval = interval or min(1.0, timeout / 4)
        self._on_silent = on_silent
        self._peers: dict[str, _Peer] = {}
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._peers)

    def watch(self, session: "Session") -> None:
        """Start counting ``session``'s received datagrams (call once it is connected)."""
        if session.closed or session.id in self._peers:
            return
        pc = session.pc
        transports = [t.receiver.transport for t in pc.getTransceivers()]
        if pc.sctp is not None:
            transports.append(pc.sctp.transport)
        dtls = list({id(t): t for t in transports
                     if aiortc_internals.has_receive_counter(t)}.values())
        if not dtls:  # aiortc renamed its counter: only STUN would keep peers alive
            logger.warning("session %s: no DTLS packet counter to watch (aiortc changed?)",
                           session.id)
        loop = asyncio.get_running_loop()
        peer = self._peers[session.id] = _Peer(session, dtls, loop.time())
        connections = (aiortc_internals.ice_connection(t) for t in dtls)
        for connection in {id(c): c for c in connections}.values():
            self._hook_stun(peer, connection)
        if self._timer is None:
            self._timer = loop.call_later(self.interval, self._tick)

    def forget(self, session: "Session") -> None:
        """Stop watching ``session`` (it ended)."""
        self._peers.pop(session.id, None)

    def silent_for(self, session: "Session") -> float:
        """Seconds since the node last heard from ``session``'s peer (inf if unwatched)."""
        peer = self._peers.get(session.id)
        if peer is None:
            return math.inf
        now = asyncio.get_running_loop().time()
        count = peer.received()
        if count != peer.count:
            peer.count, peer.heard, peer.suspect = count, now, False
        return now - peer.heard

    def close(self) -> None:
        """Stop the timer and forget every session (node shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._peers.clear()

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = None
        delay = self.interval
        try:
            delay = self._sample(loop.time())
        finally:  # one failing callback must not stop the watchdog for good
            if self._peers and self._timer is None:
                self._timer = loop.call_later(delay, self._tick)

    def _sample(self, now: float) -> float:
        """End peers silent since ``timeout``; returns the delay to the next sample."""
        silent, suspects = [], False
        for peer in self._peers.values():
            count = peer.received()
            if count != peer.count:
                peer.count, peer.heard, peer.suspect = count, now, False
            elif now - peer.heard >= self.timeout:
                # confirmed on a later tick only: right after a stall of the node's own
                # loop, datagrams already read may still wait for the DTLS task to count
                # them, which runs before any timer of the next loop iteration
                if peer.suspect:
                    silent.append(peer)
                peer.suspect = suspects = True
        for peer in silent:
            del self._peers[peer.session.id]
            logger.warning("session %s (%s): nothing received for %.1f s", peer.session.id,
                           peer.session.participant_id, now - peer.heard)
            self._on_silent(peer.session)
        return CONFIRM_DELAY if suspects else self.interval

    def _hook_stun(self, peer: _Peer, connection) -> None:
        """Count the peer's authenticated checks and answers to the node's consent checks.

        Both are a few per 5 s, so wrapping aioice's methods here costs nothing that
        matters; media never passes through them.
        """
        check_incoming = connection.check_incoming

        def counted_check(message, addr, protocol) -> None:
            peer.stun += 1
            check_incoming(message, addr, protocol)

        connection.check_incoming = counted_check
        for protocol in aioice_internals.protocols(connection):
            protocol.request = _counted_request(peer, protocol.request)
        peer.consent_task = aioice_internals.consent_task(connection)
        connection.close = _close_unless_heard(self, peer, connection, connection.close)


def _counted_request(peer: _Peer, request):
    async def counted(*args, **kwargs):
        answer = await request(*args, **kwargs)
        peer.stun += 1
        return answer
    return counted


def _close_unless_heard(liveness: ReceiveLiveness, peer: _Peer, connection, close):
    """aioice closes a connection after ``CONSENT_FAILURES`` unanswered consent checks.

    Answers go unanswered in time when the node's own loop lags behind its sockets
    (a starved CPU), while the peer's packets keep arriving: then consent is checked
    afresh instead. A peer also unheard for ``timeout`` s is closed as before.
    """
    async def close_unless_heard() -> None:
        if (peer.consent_task is not None and asyncio.current_task() is peer.consent_task
                and liveness.silent_for(peer.session) < liveness.timeout):
            logger.warning("session %s: ICE consent unanswered but the peer is heard; "
                           "checking consent again", peer.session.id)
            peer.consent_task = aioice_internals.restart_consent(connection)
            return
        await close()
    return close_unless_heard
