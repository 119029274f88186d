"""The node's side of the control plane: heartbeats, the room events feed, leave
reports, and the node token it authenticates with."""
