"""REST typing: start, renew, stop, scoping by agent, chat and org; typing as a sign of life."""
from datetime import timedelta

from sqlalchemy import select

from presence_app import jobs
from presence_app.extensions import db
from presence_app.models import PresenceChange, TypingIndicator

from .inprocess import silence
from .support import CHAT, bearer

TYPING = "/api/v1/typing/"
ME = "/api/v1/presence/me/"


def start(client, sub=5, chat_id=CHAT, **claims):
    return client.post(TYPING, json={"chat_id": chat_id}, headers=bearer(sub, **claims))


def stop(client, sub=5, chat_id=CHAT, **claims):
    return client.delete(TYPING, query_string={"chat_id": chat_id}, headers=bearer(sub, **claims))


def test_start_answers_started_and_a_renewal_answers_not_started(client):
    first = start(client)
    assert first.status_code == 200
    assert first.json == {"chat_id": CHAT, "typing": True, "started": True}
    assert start(client).json == {"chat_id": CHAT, "typing": True, "started": False}


def test_stop_answers_stopped_once(client):
    start(client)
    first = stop(client)
    assert first.status_code == 200
    assert first.json == {"chat_id": CHAT, "typing": False, "stopped": True}
    assert stop(client).json == {"chat_id": CHAT, "typing": False, "stopped": False}


def test_stop_without_start_is_not_an_error(client):
    assert stop(client).json == {"chat_id": CHAT, "typing": False, "stopped": False}


def test_a_stopped_indicator_can_start_again(client):
    start(client)
    stop(client)
    assert start(client).json["started"] is True


def test_indicators_are_per_chat(client):
    start(client, chat_id="chat-a")
    start(client, chat_id="chat-b")
    stop(client, chat_id="chat-a")
    assert start(client, chat_id="chat-b").json["started"] is False
    assert start(client, chat_id="chat-a").json["started"] is True


def test_indicators_are_per_agent(client):
    start(client, sub=5)
    assert start(client, sub=6).json["started"] is True
    stop(client, sub=5)
    assert start(client, sub=6).json["started"] is False


def test_the_same_chat_id_in_two_orgs_is_two_chats(client):
    assert start(client, sub=5, org="acme").json["started"] is True
    assert start(client, sub=6, org="other").json["started"] is True
    assert stop(client, sub=5, org="acme").json["stopped"] is True
    assert start(client, sub=6, org="other").json["started"] is False


def test_typing_changes_no_presence_and_writes_no_ledger_row(app, client):
    start(client)
    stop(client)
    me = client.get(ME, headers=bearer(5)).json
    assert (me["status"], me["seq"]) == ("offline", 0)
    with app.app_context():
        assert db.session.scalars(select(PresenceChange)).all() == []


def test_typing_start_and_stop_are_signs_of_life(app, client):
    client.get(ME, headers=bearer(5))
    for call in (start, stop):
        silence(app, 5)
        assert client.get(ME, headers=bearer(5)).json["is_inactive"] is True
        call(client)
        assert client.get(ME, headers=bearer(5)).json["is_inactive"] is False


def test_going_offline_ends_my_typing(client):
    client.post("/api/v1/presence/set-status/", json={"status": "online"}, headers=bearer(5))
    start(client)
    client.post("/api/v1/presence/set-status/", json={"status": "offline"}, headers=bearer(5))
    assert stop(client).json["stopped"] is False


def test_a_stale_indicator_is_expired_and_starts_afresh(app, client):
    start(client)
    with app.app_context():
        row = db.session.scalar(select(TypingIndicator))
        row.renewed_at -= timedelta(seconds=app.config["TYPING_TIMEOUT_SECONDS"] + 1)
        db.session.commit()
        assert jobs.expire_stale_typing() == 1
    assert stop(client).json["stopped"] is False
    assert start(client).json["started"] is True


def test_a_renewed_indicator_is_not_expired(app, client):
    start(client)
    with app.app_context():
        assert jobs.expire_stale_typing() == 0
    assert start(client).json["started"] is False
