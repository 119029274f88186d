"""CORS for browser clients: they call join and the media grant from the app's own origin.

Bearer tokens, never cookies, authenticate every call, so ``*`` exposes nothing a page
could not already do with the token; ``DROPON_CORS_ORIGIN`` narrows it to one origin.
Set before any route is registered: Chalice reads it per route at registration.
"""
from __future__ import annotations

import os

from chalice import CORSConfig


def browser_cors() -> CORSConfig:
    return CORSConfig(allow_origin=os.environ.get("DROPON_CORS_ORIGIN", "*"),
                      allow_headers=["Authorization", "Content-Type"],
                      expose_headers=["Retry-After"], max_age=600)
