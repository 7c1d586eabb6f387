"""The agent console page at /: a small reference client served by the app itself."""
from flask import Blueprint, current_app, send_from_directory

console_bp = Blueprint("console", __name__)

# Everything the page loads is the app's own (no CDN): say so, so injected markup can't load more.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@console_bp.get("/")
def index():
    """The console's single page (static HTML, CSS and JavaScript, no build step)."""
    response = send_from_directory(current_app.static_folder, "console/index.html")
    response.headers["Content-Security-Policy"] = CSP
    return response
