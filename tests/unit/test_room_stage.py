"""The Room aggregate's stage and host controls: hands, promote, demote, mute, publishing."""

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import Actor, Room
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
HOST = Actor("participant", "hugo")
ANN = Actor("participant", "ann")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stage(**policy):
    r = Room.create(KEY, at=T0, name="Podcast", persistent=True, policy={"stageMode": True, **policy})
    ids = {}
    for identity, role in (("hugo", "host"), ("ann", "audience"), ("sam", "speaker")):
        ids[identity] = f"p-{identity}"
        r.join(Actor("participant", identity), participant_id=ids[identity], call_id="c",
               identity=identity, role=role, at=at(1))
    r.collect_events()
    return r, ids


def names(r):
    return [type(e).__name__ for e in r.collect_events()]


def test_audience_raises_a_hand_and_a_host_promotes_which_clears_it():
    r, ids = stage()
    assert not r.can_publish(ids["ann"]) and r.can_publish(ids["sam"]) and r.can_publish(ids["hugo"])
    r.raise_hand(ANN, at=at(2))
    r.raise_hand(ANN, at=at(3))  # already raised: nothing recorded
    assert names(r) == ["HandRaised"]
    with pytest.raises(errors.NotAllowed):
        r.promote(Actor("participant", "sam"), ids["ann"], at=at(4))
    r.promote(HOST, ids["ann"], at=at(4))
    p = r.participants[ids["ann"]]
    assert (p["role"], p["hand_raised"]) == ("speaker", False)
    assert r.can_publish(ids["ann"], "audio")
    r.demote(HOST, ids["ann"], at=at(5))
    assert r.participants[ids["ann"]]["role"] == "audience" and not r.can_publish(ids["ann"])
    assert names(r) == ["ParticipantPromoted", "ParticipantDemoted"]


def test_promote_and_demote_need_the_right_role_and_stage_mode():
    r, ids = stage()
    with pytest.raises(errors.InvalidState) as info:
        r.promote(HOST, ids["sam"], at=at(2))
    assert info.value.code == "not_audience"
    with pytest.raises(errors.InvalidState) as info:
        r.demote(HOST, ids["hugo"], at=at(2))
    assert info.value.code == "not_speaker"
    r.update_policy(KEY, {"stageMode": False}, at=at(3))
    assert r.participants[ids["ann"]]["role"] == "speaker"  # everyone but hosts speaks
    with pytest.raises(errors.InvalidState) as info:
        r.demote(HOST, ids["sam"], at=at(4))
    assert info.value.code == "stage_mode_off"


def test_a_host_lowers_anyones_hand_and_a_participant_its_own():
    r, ids = stage()
    r.raise_hand(ANN, at=at(2))
    with pytest.raises(errors.NotAllowed):
        r.lower_hand(Actor("participant", "sam"), ids["ann"], at=at(3))
    r.lower_hand(HOST, ids["ann"], at=at(3))
    r.raise_hand(ANN, at=at(4))
    r.lower_own_hand(ANN, at=at(5))
    assert names(r) == ["HandRaised", "HandLowered", "HandRaised", "HandLowered"]
    assert r.collect_events() == []


def test_raise_hand_needs_a_joined_participant():
    r, ids = stage()
    with pytest.raises(errors.NotAllowed):
        r.raise_hand(KEY, at=at(2))
    with pytest.raises(errors.NotAllowed):
        r.raise_hand(Actor("participant", "stranger"), at=at(2))
    r.leave(ANN, ids["ann"], at=at(3))
    with pytest.raises(errors.NotAllowed):
        r.raise_hand(ANN, at=at(4))


def test_mute_is_an_event_per_kind_that_changed():
    r, ids = stage()
    with pytest.raises(errors.NotAllowed):
        r.mute(ANN, ids["sam"], at=at(2))
    r.mute(HOST, ids["sam"], audio=True, video=False, at=at(2))
    r.mute(HOST, ids["sam"], at=at(3))
    muted = r.collect_events()
    assert [(type(e).__name__, e.audio, e.video) for e in muted] == [
        ("ParticipantMuted", True, False), ("ParticipantMuted", False, True)]
    assert not r.can_publish(ids["sam"], "audio") and not r.can_publish(ids["sam"], "video")
    r.mute(HOST, ids["sam"], video=False, muted=False, at=at(4))
    assert r.participants[ids["sam"]]["muted"] == {"audio": False, "video": True}
    assert names(r) == ["ParticipantUnmuted"]
    with pytest.raises(errors.InvalidArgument):
        r.mute(HOST, ids["sam"], audio=False, video=False, at=at(5))


def test_audio_only_rooms_publish_no_video():
    r, ids = stage(audioOnly=True)
    assert r.can_publish(ids["sam"], "audio") and not r.can_publish(ids["sam"], "video")


def test_host_controls_refuse_a_closed_room():
    r, ids = stage()
    r.close(HOST, at=at(2))
    with pytest.raises(errors.RoomClosed):
        r.mute(KEY, ids["sam"], at=at(3))
