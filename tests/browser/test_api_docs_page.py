"""The Swagger UI page at /api/v1/docs in Chromium: every operation of the document rendered, offline, under its CSP."""
import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.processes]

METHODS = {"get", "post", "put", "delete", "patch"}


def _watched(chromium, url):
    """A new page, the errors it logs, and every request it makes outside the service."""
    context = chromium.new_context()
    page = context.new_page()
    problems, elsewhere = [], []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith((url, "data:")) else elsewhere.append(r.url))
    return context, page, problems, elsewhere


def test_docs_page_renders_every_operation_from_local_files_without_errors(chromium, processes):
    _, url = processes.web()
    document = requests.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    operations = sum(1 for item in document["paths"].values() for method in item if method in METHODS)
    context, page, problems, elsewhere = _watched(chromium, url)
    try:
        page.goto(f"{url}/api/v1/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() == operations
        assert page.locator(".info .title").inner_text().startswith("presence_app")
        page.locator(".opblock-summary", has_text="/api/v1/presence/set-status/").first.click()
        page.wait_for_selector("text=StatusIn", timeout=10_000)  # the request body's schema, by its name
    finally:
        context.close()
    assert problems == [] and elsewhere == []


def test_events_page_renders_every_socket_event_of_the_asyncapi_document_from_local_files(chromium, processes):
    _, url = processes.web()
    document = requests.get(f"{url}/api/v1/asyncapi.json", timeout=10).json()
    context, page, problems, elsewhere = _watched(chromium, url)
    try:
        page.goto(f"{url}/api/v1/docs")
        page.click("text=Socket.IO events (AsyncAPI)")
        page.wait_for_selector("#introduction", timeout=30_000)
        assert page.locator("h1").first.inner_text().startswith(document["info"]["title"])
        text = page.locator("#asyncapi").inner_text()
        missing = [name for name in document["operations"] if name not in text]
        assert missing == []
        assert page.locator(".sidebar, #sidebar, [class*=sidebar]").count() > 0
    finally:
        context.close()
    assert problems == [] and elsewhere == []
