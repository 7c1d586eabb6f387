"""The agent console page at /: a small reference client served by the app itself."""
from flask import Blueprint, current_app, send_from_directory

console_bp = Blueprint("console", __name__)


@console_bp.get("/")
def index():
    """The console's single page (static HTML, CSS and JavaScript, no build step)."""
    return send_from_directory(current_app.static_folder, "console/index.html")
