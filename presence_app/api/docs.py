"""The API documents, public: OpenAPI at openapi.json, AsyncAPI at asyncapi.json, Swagger UI at docs."""
from flask import current_app, send_from_directory

from .. import asyncapi, openapi
from ..openapi import documented
from . import bp

DOCUMENT = {"type": "object"}
# Swagger UI sets style attributes as it renders; scripts stay the app's own files.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.get("/openapi.json")
@documented(DOCUMENT, public=True, tag="documents")
def openapi_document():
    """This OpenAPI 3.1 document of the REST API."""
    return openapi.document(current_app)


@bp.get("/asyncapi.json")
@documented(DOCUMENT, public=True, tag="documents")
def asyncapi_document():
    """The AsyncAPI 3.0 document of the Socket.IO events."""
    return asyncapi.document(current_app)


@bp.get("/docs")
@documented({"type": "string"}, public=True, media="text/html", tag="documents")
def docs_page():
    """A browsable page of the OpenAPI document (Swagger UI, served by the app itself)."""
    response = send_from_directory(current_app.static_folder, "docs/index.html")
    response.headers["Content-Security-Policy"] = CSP
    return response
