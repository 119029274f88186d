"""How clients talk to the node: the WHIP/WHEP-style HTTP edge, SDP, media tokens, and
the notices sent on a session's ``signaling`` data channel."""
