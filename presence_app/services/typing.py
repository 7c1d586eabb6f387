"""Typing indicators: the server owns them, coalesces renewals and ends each exactly once."""
from flask import current_app
from sqlalchemy import bindparam, select, update

from .. import metrics
from ..dbtime import now, seconds_ago
from ..extensions import db
from ..schemas.base import iso
from .presence import sign_of_life
from .transitions import T, finish, insert_new, prepared, take_typing


@prepared
def _renew():
    return update(T).where(T.c.agent_id == bindparam("b_agent"), T.c.chat_id == bindparam("b_chat")).values(
        renewed_at=now())


@prepared
def _start():
    return insert_new(T, agent_id=bindparam("b_agent"), chat_id=bindparam("b_chat"), org=bindparam("b_org"),
                      name=bindparam("b_name"), started_at=now(), renewed_at=now()).returning(
        T.c.agent_id, T.c.chat_id, T.c.org, T.c.name, now().label("at"))


def start(identity, chat_id):
    """The agent types in a chat: typing_start once, renewals refresh it silently."""
    _, changed = sign_of_life(identity)
    which = {"b_agent": identity.agent_id, "b_chat": chat_id}
    renewed = db.session.execute(_renew(), which).rowcount
    started = [] if renewed else db.session.execute(
        _start(), dict(which, b_org=identity.org, b_name=identity.name)).all()
    finish(changed=changed, started=started)
    return {"chat_id": chat_id, "typing": True, "started": bool(started)}


def stop(identity, chat_id):
    """The agent stopped typing: typing_stop only if it was typing (idempotent)."""
    _, changed = sign_of_life(identity)
    stopped = take_typing((T.c.agent_id == identity.agent_id) & (T.c.chat_id == chat_id))
    finish(changed=changed, stopped=stopped)
    return {"chat_id": chat_id, "typing": False, "stopped": bool(stopped)}


def expire_stale():
    """The stuck-indicator rule: stop every indicator not renewed within the timeout."""
    timeout = current_app.config["TYPING_TIMEOUT_SECONDS"]
    stopped = take_typing(T.c.renewed_at < seconds_ago(timeout))
    finish(stopped=stopped)
    metrics.typing_expired(len(stopped))
    return len(stopped)


def in_chats(org, chat_ids):
    """Who is typing now in these chats of an org: [{"chat_id", "agent_id", "from", "since"}]."""
    if not chat_ids:
        return []
    rows = db.session.execute(
        select(T.c.chat_id, T.c.agent_id, T.c.name, T.c.started_at)
        .where(T.c.org == org, T.c.chat_id.in_(sorted(chat_ids))).order_by(T.c.chat_id, T.c.started_at)).all()
    db.session.commit()
    return [{"chat_id": r.chat_id, "agent_id": r.agent_id, "from": r.name, "since": iso(r.started_at)} for r in rows]
