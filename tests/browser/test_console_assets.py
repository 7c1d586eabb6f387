"""The console's files are served by the app itself (no CDN), so it works offline; no browser needed."""
import re

VENDOR = "/static/vendor/socket.io.min.js"


def test_console_page_loads_only_the_apps_own_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for asset in re.findall(r"""(?:src|href)="(static/[^"]+)""", html):
        assert client.get("/" + asset).status_code == 200, asset
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]


def test_vendored_socket_io_client_keeps_its_version_and_license(client):
    script = client.get(VENDOR).get_data(as_text=True)
    assert script.startswith("/*!\n * Socket.IO v4.8.4\n")
    assert "Released under the MIT License." in script[:200]
