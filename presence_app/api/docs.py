"""The API documents, public: OpenAPI and AsyncAPI (openapi.json, asyncapi.json) and a page of each."""
from flask import current_app, send_from_directory

from .. import asyncapi, openapi
from ..openapi import documented
from . import bp

DOCUMENT = {"type": "object"}
# Swagger UI sets style attributes as it renders; scripts stay the app's own files.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

# The AsyncAPI parser inside the component compiles JSON Schemas into functions (ajv): 'unsafe-eval'.
# The page holds no user data and loads nothing but the app's own files.
EVENTS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")


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
    return _page("docs/index.html", CSP)


@bp.get("/docs/events")
@documented({"type": "string"}, public=True, media="text/html", tag="documents")
def events_page():
    """A browsable page of the AsyncAPI document (the AsyncAPI React component, served by the app itself)."""
    return _page("docs/events.html", EVENTS_CSP)


def _page(path, csp):
    response = send_from_directory(current_app.static_folder, path)
    response.headers["Content-Security-Policy"] = csp
    return response
