"""Media nodes as the control plane sees them: registry, health, assignment, tokens.

This is operational state (who is alive, how loaded), not room history: it lives in
its own table and never in the event store. A room's choice of node is history, and is
recorded on the room as ``MediaNodeAssigned``.
"""
