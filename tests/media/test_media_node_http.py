"""The HTTP edge: stable error codes, session ownership, trickle ICE, leaving."""
from __future__ import annotations

import aiohttp
import pytest

from .helpers import error_code, run, running_node, wait_for

pytestmark = pytest.mark.media


def test_errors_carry_stable_codes_and_sessions_belong_to_their_participant():
    async def scenario():
        async with running_node() as n:
            url = f"{n.base_url}/rooms/r/whip"
            token = n.token("r", "ann", "audience")
            async with aiohttp.ClientSession() as http:
                async def post(headers, body="v=0\r\n"):
                    async with http.post(url, data=body, headers=headers) as r:
                        return r.status, error_code(await r.json())

                sdp = {"Content-Type": "application/sdp"}
                assert await post(sdp) == (401, "missing_token")
                assert await post({**sdp, "Authorization": "Bearer nope"}) == (401, "invalid_token")
                other_room = n.token("elsewhere", "ann", "audience")
                assert await post({**sdp, "Authorization": f"Bearer {other_room}"}) == (
                    401, "wrong_room")
                auth = {"Authorization": f"Bearer {token}"}
                assert await post({**auth, "Content-Type": "text/plain"}) == (
                    415, "bad_content_type")
                assert await post({**auth, **sdp}, "hello") == (400, "bad_sdp")

                client = n.client("r", "ann", "audience")
                client.receive(audio=1)
                await client.connect()
                location = client.location
                assert location.startswith(f"{n.base_url}/sessions/")
                frag = {"Content-Type": "application/trickle-ice-sdpfrag"}
                body = ("a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
                        "a=candidate:2 1 udp 2130706431 10.1.2.3 9 typ host\r\n")
                async with http.patch(location, data=body, headers={**auth, **frag}) as r:
                    assert r.status == 204
                async with http.patch(location, data="a=candidate:x", headers={**auth, **frag}) as r:
                    assert (r.status, error_code(await r.json())) == (400, "bad_candidate")
                stranger = {"Authorization": f"Bearer {n.token('r', 'bob', 'audience')}"}
                async with http.delete(location, headers=stranger) as r:
                    assert (r.status, error_code(await r.json())) == (403, "not_your_session")
                async with http.delete(location, headers=auth) as r:
                    assert r.status == 200
                async with http.delete(location, headers=auth) as r:
                    assert (r.status, error_code(await r.json())) == (404, "session_not_found")
            assert await wait_for(lambda: not n.node.sessions)
            await client.close(hang_up=False)

    run(scenario())
