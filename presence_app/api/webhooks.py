"""Webhook endpoints of my org (supervisors and the platform's backend): register, list, delete, rotate, log."""
from flask import request

from ..openapi import documented
from ..schemas.base import Empty, load, load_json
from ..schemas.webhooks import DeliveriesQuery, EndpointIn
from ..services import webhooks
from ..shapes.webhooks import Deleted, Deliveries, Endpoints, NewEndpoint, Redelivery, RotatedEndpoint
from . import bp, manager


@bp.post("/webhooks/")
@documented(NewEndpoint, body=EndpointIn, errors=(403,), status=201)
def create_endpoint():
    """Register an endpoint; its whsec_ secret is in this answer only."""
    actor = manager()
    return webhooks.create(actor.org, **load_json(EndpointIn, request.get_data())), 201


@bp.get("/webhooks/")
@documented(Endpoints, query=Empty, errors=(403,))
def list_endpoints():
    """My org's endpoints (without secrets)."""
    actor = manager()
    load(Empty, request.args.to_dict())
    return {"endpoints": webhooks.endpoints(actor.org)}


@bp.delete("/webhooks/<endpoint_id>/")
@documented(Deleted, errors=(403,))
def delete_endpoint(endpoint_id):
    """Delete an endpoint: nothing more is sent to it."""
    return webhooks.remove(manager().org, endpoint_id)


@bp.post("/webhooks/<endpoint_id>/rotate-secret/")
@documented(RotatedEndpoint, body=Empty, errors=(403,))
def rotate_secret(endpoint_id):
    """A new secret; for 24 hours deliveries carry a signature by each."""
    actor = manager()
    load_json(Empty, request.get_data())
    return webhooks.rotate(actor.org, endpoint_id)


@bp.get("/webhooks/<endpoint_id>/deliveries/")
@documented(Deliveries, query=DeliveriesQuery, errors=(403,))
def deliveries(endpoint_id):
    """The endpoint's delivery log: one row per attempt, newest first."""
    actor = manager()
    page, after = webhooks.deliveries(actor.org, endpoint_id, **load(DeliveriesQuery, request.args.to_dict()))
    return {"deliveries": page, "next_cursor": after}


@bp.post("/webhooks/<endpoint_id>/deliveries/<message_id>/redeliver/")
@documented(Redelivery, body=Empty, errors=(403,))
def redeliver(endpoint_id, message_id):
    """Send a message again now, with the same webhook-id."""
    actor = manager()
    load_json(Empty, request.get_data())
    return webhooks.redeliver(actor.org, endpoint_id, message_id)
