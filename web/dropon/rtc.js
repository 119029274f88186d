// Small WebRTC helpers shared by the SFU and P2P paths.

/** Keep only 127.0.0.1 candidates (the local stack never sends media elsewhere). */
export function loopbackOnly(sdp) {
  return sdp.split("\r\n").filter((line) => !line.startsWith("a=candidate:") ||
    line.split(" ")[4] === "127.0.0.1").join("\r\n");
}

/** Whether one trickled candidate may go out (or be used) under `loopbackOnly`. */
export function isLoopbackCandidate(candidate) {
  return !candidate || !candidate.candidate || candidate.candidate.split(" ")[4] === "127.0.0.1";
}

/** Resolve once ICE gathering is complete, or after `ms` with what was gathered. */
export function waitForGathering(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, ms);
  });
}

/** The peer connection's inbound RTP streams, each named by `participantOf(mid)`. */
export async function inboundStats(pc, participantOf) {
  if (!pc) return [];
  const report = await pc.getStats();
  return [...report.values()].filter((s) => s.type === "inbound-rtp").map((s) => ({
    participantId: participantOf(s.mid),
    kind: s.kind,
    mid: s.mid,
    packetsReceived: s.packetsReceived || 0,
    bytesReceived: s.bytesReceived || 0,
    framesDecoded: s.framesDecoded || 0,
    audioLevel: s.audioLevel || 0,
    totalSamplesReceived: s.totalSamplesReceived || 0,
  }));
}
