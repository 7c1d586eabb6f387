"""Typing endpoints: POST starts or renews, DELETE stops."""
from flask import request

from ..openapi import documented
from ..schemas.base import load, load_json
from ..schemas.typing import ChatIn
from ..services import typing
from ..shapes.typing import TypingStarted, TypingStopped
from . import agent, bp


@bp.post("/typing/")
@documented(TypingStarted, body=ChatIn)
def start():
    """I am typing in a chat (repeat to renew)."""
    mine = agent()
    body = load_json(ChatIn, request.get_data())
    return typing.start(mine, body["chat_id"])


@bp.delete("/typing/")
@documented(TypingStopped, query=ChatIn)
def stop():
    """I stopped typing in a chat."""
    mine = agent()
    query = load(ChatIn, request.args.to_dict())
    return typing.stop(mine, query["chat_id"])
