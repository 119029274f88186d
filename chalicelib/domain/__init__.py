"""The room domain: the Room aggregate, its policy, actors and errors. No I/O."""

from chalicelib.domain.actor import SCHEDULER, Actor
from chalicelib.domain.room import Room

__all__ = ["SCHEDULER", "Actor", "Room"]
