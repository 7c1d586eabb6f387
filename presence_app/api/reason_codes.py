"""Reason codes of my org: everyone reads them, supervisors replace them."""
from flask import request

from .. import shapes
from ..openapi import documented
from ..schemas import Empty, ReasonCodesIn, load, load_json
from ..services import reason_codes
from . import bp, caller


@bp.get("/reason-codes/")
@documented(shapes.ReasonCodes, query=Empty)
def list_codes():
    """My org's reason codes."""
    load(Empty, request.args.to_dict())
    return {"codes": reason_codes.codes_of(caller().org)}


@bp.put("/reason-codes/")
@documented(shapes.ReasonCodes, body=ReasonCodesIn, errors=(403,))
def replace_codes():
    """Supervisors only: replace my org's reason codes with the list given."""
    body = load_json(ReasonCodesIn, request.get_data())
    return {"codes": reason_codes.replace(caller(), body["codes"])}
