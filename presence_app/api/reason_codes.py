"""Reason codes of my org: everyone reads them, supervisors replace them."""
from flask import request

from ..openapi import documented
from ..schemas.base import Empty, load, load_json
from ..schemas.reason_codes import ReasonCodesIn
from ..services import reason_codes
from ..shapes.reason_codes import ReasonCodes
from . import bp, caller, supervisor


@bp.get("/reason-codes/")
@documented(ReasonCodes, query=Empty)
def list_codes():
    """My org's reason codes."""
    load(Empty, request.args.to_dict())
    return {"codes": reason_codes.codes_of(caller().org)}


@bp.put("/reason-codes/")
@documented(ReasonCodes, body=ReasonCodesIn, errors=(403,))
def replace_codes():
    """Supervisors only: replace my org's reason codes with the list given."""
    actor = supervisor()
    body = load_json(ReasonCodesIn, request.get_data())
    return {"codes": reason_codes.replace(actor, body["codes"])}
