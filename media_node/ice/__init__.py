"""ICE on the node: loopback-only candidates in local mode, and where ICE sockets bind
and what address they announce (port range, 1:1 NAT)."""
