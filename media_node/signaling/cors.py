"""CORS for browser WHIP/WHEP clients (RFC 9725 expects endpoints to support it).

Media tokens travel as bearer headers, never cookies, so ``*`` is safe by default;
``DROPON_CORS_ORIGIN`` narrows it to one origin. ``Location`` is exposed so a page can
PATCH and DELETE its session.
"""
from __future__ import annotations

import os

from aiohttp import web

HEADERS = {
    "Access-Control-Allow-Methods": "POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
    "Access-Control-Max-Age": "600",
}


@web.middleware
async def cors_middleware(request: web.Request, handler):
    """Answer preflights itself; add the allow-origin header to every other response."""
    origin = os.environ.get("DROPON_CORS_ORIGIN", "*")
    if request.method == "OPTIONS":
        return web.Response(status=204, headers={"Access-Control-Allow-Origin": origin,
                                                 **HEADERS})
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["Access-Control-Allow-Origin"] = origin
        raise
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = HEADERS["Access-Control-Expose-Headers"]
    return response
