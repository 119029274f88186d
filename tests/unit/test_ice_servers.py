"""ICE servers in join answers: the TURN REST credential against a known vector, the
settings that configure them, and a secret that never shows."""
import pytest

from chalicelib.api.ice_servers import ice_servers, turn_credential
from chalicelib.config import Settings

# computed apart from this code, with OpenSSL:
#   echo -n "1700000000:p-alice" | openssl dgst -binary -sha1 -hmac "north-wind-secret" | base64
VECTOR = ("north-wind-secret", "p-alice", 1700000000, "Dxdc+DNh5fdlpMdgcvItvYYTE8c=")


def test_the_turn_credential_is_base64_hmac_sha1_of_expiry_colon_participant():
    secret, participant, expires, credential = VECTOR
    assert turn_credential(secret, participant, expires) == (f"{expires}:{participant}",
                                                              credential)


def test_every_participant_gets_stun_and_its_own_turn_credential_until_now_plus_ttl():
    settings = Settings.from_env({
        "DROPON_STUN_URLS": "stun:stun.example.org:3478, stun:127.0.0.1:3478",
        "DROPON_TURN_URLS": "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
        "DROPON_TURN_SECRET": "north-wind-secret", "DROPON_TURN_TTL": "600"})
    stun, turn = ice_servers(settings, "p-alice", now=1699999400)
    assert stun == {"urls": ["stun:stun.example.org:3478", "stun:127.0.0.1:3478"]}
    assert turn == {"urls": ["turn:turn.example.org:3478?transport=udp",
                             "turns:turn.example.org:5349"],
                    "username": "1700000000:p-alice", "credential": VECTOR[3]}
    assert ice_servers(settings, "p-bob", now=1699999400)[1]["username"] == "1700000000:p-bob"
    assert "north-wind-secret" not in repr(settings)


def test_without_settings_there_are_no_ice_servers_and_turn_needs_its_secret():
    assert ice_servers(Settings.from_env({}), "p-alice") == []
    no_secret = Settings.from_env({"DROPON_TURN_URLS": "turn:127.0.0.1:3478"})
    assert ice_servers(no_secret, "p-alice") == []


def test_a_url_of_the_wrong_scheme_stops_the_start_up():
    with pytest.raises(ValueError):
        Settings.from_env({"DROPON_STUN_URLS": "turn:127.0.0.1:3478"})
    with pytest.raises(ValueError):
        Settings.from_env({"DROPON_TURN_URLS": "http://turn.example.org"})
