"""Typing and chat rooms: the chat id rule and the typing event."""
from .base import CHAT_ID, Strict, check_chat_id, iso, string


class ChatIn(Strict):
    """Body of typing and chat-room events; also the typing DELETE query."""

    chat_id = string(required=True, validate=check_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$"})


def typing_event(row):
    """Data of typing_start / typing_stop."""
    return {"chat_id": row.chat_id, "from": row.name, "agent_id": row.agent_id, "timestamp": iso(row.at)}
