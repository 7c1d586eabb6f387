"""The webhook outbox: events written in the same transaction as the change they carry.

This is the interface the rest of the service calls; the webhooks work fills it in (a stub
until then: it records nothing).
"""


def record(org, event_type, events):
    """Queue webhook events of `event_type` for `org`'s endpoints, in the caller's transaction.

    `events` is a list of {"agent_id": int or None, "seq": int or None, "data": dict}; nothing is
    written when the org has no endpoint for that type. The caller commits.
    """
    return None
