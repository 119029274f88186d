"""Bearer JWTs: admin tokens, participant tokens, and every way one can be refused."""
import time

import jwt
import pytest

from chalicelib.api.auth import (authenticate, mint_admin_token, mint_participant_token,
                                 require_admin, require_room)
from chalicelib.api.errors import ApiError
from chalicelib.config import Settings

SETTINGS = Settings(api_keys={"key-1": "s" * 32}, admin_token_max_ttl=600)


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def refused(headers) -> ApiError:
    with pytest.raises(ApiError) as caught:
        authenticate(headers, SETTINGS)
    return caught.value


def participant_token(**over):
    token, _ = mint_participant_token(SETTINGS, "key-1", room_id="r1", identity="ada",
                                      role="speaker", ttl_seconds=60, **over)
    return token


def test_admin_token_signed_by_the_caller_is_admin():
    p = authenticate(bearer(mint_admin_token("key-1", "s" * 32)), SETTINGS)
    assert (p.kind, p.key_id, p.is_admin) == ("api_key", "key-1", True)
    require_admin(p)
    require_room(p, "any-room")


def test_participant_token_names_room_identity_role():
    p = authenticate(bearer(participant_token(replace=True)), SETTINGS)
    assert (p.kind, p.room_id, p.identity, p.role, p.replace) == (
        "participant", "r1", "ada", "speaker", True)
    require_room(p, "r1")
    with pytest.raises(ApiError) as caught:
        require_room(p, "r2")
    assert (caught.value.status, caught.value.code) == (403, "wrong_room")
    with pytest.raises(ApiError) as caught:
        require_admin(p)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


@pytest.mark.parametrize("headers", [None, {}, {"authorization": ""},
                                     {"authorization": "Basic abc"},
                                     {"authorization": "Bearer"},
                                     {"authorization": "Bearer not-a-jwt"}])
def test_missing_or_malformed_header_is_unauthorized(headers):
    err = refused(headers)
    assert (err.status, err.code) == (401, "unauthorized")


def test_forged_signature_is_unauthorized():
    assert refused(bearer(mint_admin_token("key-1", "x" * 32))).code == "unauthorized"


def test_unknown_key_id_is_unauthorized():
    assert refused(bearer(mint_admin_token("key-2", "s" * 32))).code == "unauthorized"


def test_none_algorithm_is_refused():
    token = jwt.encode({"iss": "key-1", "exp": int(time.time()) + 60}, None, algorithm="none")
    assert refused(bearer(token)).code == "unauthorized"


def test_token_without_exp_is_refused():
    token = jwt.encode({"iss": "key-1"}, "s" * 32, algorithm="HS256")
    assert refused(bearer(token)).code == "unauthorized"


def test_expired_token_is_token_expired():
    token = mint_admin_token("key-1", "s" * 32, ttl_seconds=60, now=time.time() - 120)
    err = refused(bearer(token))
    assert (err.status, err.code) == (401, "token_expired")


def test_participant_token_before_nbf_is_refused():
    token = participant_token(now=time.time() + 120)
    assert refused(bearer(token)).code == "token_not_yet_valid"


def test_long_lived_admin_token_is_refused():
    token = mint_admin_token("key-1", "s" * 32, ttl_seconds=3600)
    assert refused(bearer(token)).code == "token_lifetime_too_long"


def test_participant_token_missing_a_claim_is_refused():
    token = jwt.encode({"iss": "key-1", "exp": int(time.time()) + 60, "room": "r1",
                        "sub": "ada"}, "s" * 32, algorithm="HS256")
    assert refused(bearer(token)).code == "unauthorized"


def test_settings_repr_hides_secrets():
    assert "s" * 32 not in repr(SETTINGS)
