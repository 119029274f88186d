"""The forwarding unit: sessions and rooms, published and forwarded tracks, the direct
path's fan-out (and its C loop), the receive path, transceiver slots, keyframes, REMB,
RTCP sender reports and receive liveness."""
