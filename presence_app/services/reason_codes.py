"""Reason codes: each org's list, replaced whole by its supervisors, checked when a status is set."""
from sqlalchemy import delete, insert, select

from ..errors import Forbidden, ValidationError
from ..extensions import db
from ..models import ReasonCode
from .transitions import take_turn

RC = ReasonCode.__table__


def _shape(row):
    return {"code": row.code, "label": row.label, "statuses": row.statuses.split(","),
            "max_minutes": row.max_minutes}


def codes_of(org):
    """The org's reason codes, in the order the supervisors gave them."""
    rows = db.session.execute(select(RC).where(RC.c.org == org).order_by(RC.c.position)).all()
    db.session.commit()
    return [_shape(row) for row in rows]


def replace(actor, codes):
    """A supervisor replaces the org's whole list in one transaction; answers the new list."""
    if not actor.is_supervisor:
        raise Forbidden("only supervisors may define reason codes")
    take_turn("reason_codes", actor.org)
    db.session.execute(delete(RC).where(RC.c.org == actor.org))
    if codes:
        db.session.execute(insert(RC), [
            {"org": actor.org, "code": c["code"], "label": c["label"], "position": position,
             "statuses": ",".join(c["statuses"]), "max_minutes": c["max_minutes"]}
            for position, c in enumerate(codes)
        ])
    db.session.commit()
    return codes_of(actor.org)


def check(org, code, status):
    """Refuse a reason code that is not one of the org's codes allowed for `status`."""
    if code is None:
        return
    statuses = db.session.scalar(select(RC.c.statuses).where(RC.c.org == org, RC.c.code == code))
    if statuses is None:
        raise ValidationError(f"reason_code {code} is not one of your org's reason codes",
                              {"reason_code": ["is not one of your org's reason codes"]})
    if status not in statuses.split(","):
        raise ValidationError(f"reason_code {code} is not allowed for status {status}",
                              {"reason_code": [f"is not allowed for status {status}"]})
