"""Use cases on rooms. The HTTP layer imports RoomsApplication and Actor from here."""

from chalicelib.application.rooms import RoomsApplication
from chalicelib.domain.actor import SCHEDULER, Actor

__all__ = ["SCHEDULER", "Actor", "RoomsApplication"]
