"""Socket.IO client events of chats: joining one to see its typing, and typing in it; thin, like sockets.py."""
from flask import current_app
from flask_socketio import join_room, leave_room

from . import notify
from .errors import LimitExceeded
from .schemas.typing import ChatIn
from .services import typing
from .sockets import client_event


@client_event("join_chat", ChatIn)
def on_join_chat(live, body):
    """A console opens a chat: it joins the chat's room to see typing there."""
    chat_id, limit = body["chat_id"], current_app.config["MAX_CHATS_PER_SOCKET"]
    if chat_id not in live.chats and len(live.chats) >= limit:
        raise LimitExceeded(f"a socket joins at most {limit} chats; leave one first")
    join_room(notify.chat_room(live.identity.org, chat_id))
    live.chats.add(chat_id)
    return {"chat_id": chat_id, "typing": typing.in_chats(live.identity.org, [chat_id])}


@client_event("leave_chat", ChatIn)
def on_leave_chat(live, body):
    """A console leaves a chat: no more typing events from it."""
    leave_room(notify.chat_room(live.identity.org, body["chat_id"]))
    live.chats.discard(body["chat_id"])
    return {"chat_id": body["chat_id"]}


@client_event("typing_start", ChatIn)
def on_typing_start(live, body):
    """The agent types in a chat; renewals are silent."""
    return typing.start(live.identity, body["chat_id"])


@client_event("typing_stop", ChatIn)
def on_typing_stop(live, body):
    """The agent stopped typing in a chat."""
    return typing.stop(live.identity, body["chat_id"])
