"""The console's files are served by the app itself (no CDN), so it works offline; no browser needed."""
import re

BUNDLE = "/static/vendor/presence-app-client.js"


def test_console_page_loads_only_the_apps_own_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for asset in re.findall(r"""(?:src|href)="(static/[^"]+)""", html):
        assert client.get("/" + asset).status_code == 200, asset
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_console_imports_the_client_library_bundle_served_by_the_app(client):
    script = client.get("/static/console/console.js").get_data(as_text=True)
    assert 'from "../vendor/presence-app-client.js"' in script
    bundle = client.get(BUNDLE)
    assert bundle.status_code == 200 and bundle.mimetype in ("text/javascript", "application/javascript")
    assert "export{" in bundle.get_data(as_text=True)[-400:]  # an ES module: what console.js imports
