"""Shapes of typing: REST answers, the typing events, who types now, and the chat acks."""

from .base import Ack, Shape, bool_, const, int_, list_, str_, time_


class TypingStarted(Shape):
    """Typing started (`started` false: a silent renewal)."""

    chat_id = str_()
    typing = const(True)
    started = bool_()


class TypingStopped(Shape):
    """Typing stopped (`stopped` false: it was not typing)."""

    chat_id = str_()
    typing = const(False)
    stopped = bool_()


class TypingData(Shape):
    """Data of typing_start and typing_stop, to the chat's room."""

    chat_id = str_()
    from_ = str_(data_key="from", metadata={"description": "the typing agent's display name"})
    agent_id = int_(1)
    timestamp = time_()


class TypingNow(Shape):
    """Someone typing in a chat now."""

    chat_id = str_()
    agent_id = int_(1)
    from_ = str_(data_key="from")
    since = time_()


class ChatAck(Ack):
    """Ack of leave_chat."""

    chat_id = str_()


class JoinAck(ChatAck):
    """Ack of join_chat: who is typing in that chat now."""

    typing = list_(TypingNow)


class TypingStartAck(Ack, TypingStarted):
    """Ack of typing_start."""


class TypingStopAck(Ack, TypingStopped):
    """Ack of typing_stop."""
