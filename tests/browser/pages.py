"""Page object of the agent console: what a test does and reads there, in the page's own words."""
try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips the browser tests and says why
    expect = None

TIMEOUT_MS = 10_000  # generous: the machine is shared; expectations return as soon as they hold


class ConsolePage:
    """One browser tab with the console, signed in as one agent."""

    def __init__(self, page, url, name, artifact_prefix, slug):
        self.page, self.url, self.name, self.prefix, self.slug = page, url, name, artifact_prefix, slug
        self.errors = []  # what the page logged as errors, and exceptions it did not catch
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def sign_in(self, email, password):
        """Open the console, sign in, and wait until the socket is connected."""
        self.page.goto(self.url + "/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#me-name")).to_have_text(self.name, timeout=TIMEOUT_MS)
        self.expect_connection("Connected")

    def expect_connection(self, text, timeout=TIMEOUT_MS):
        expect(self.page.locator("#connection")).to_have_text(text, timeout=timeout)

    def row(self, name):
        """The roster row of the agent called `name`."""
        return self.page.locator("#roster-body tr").filter(has=self.page.locator("td.name", has_text=name))

    def expect_agent(self, name, status=None, message=None, connection=None, timeout=TIMEOUT_MS):
        """Wait until the roster shows `name` with the given status, message and connection."""
        row = self.row(name)
        for kind, text in (("status", status), ("message", message), ("connection", connection)):
            if text is not None:
                expect(row.locator(f"td.{kind}")).to_have_text(text, timeout=timeout)

    def set_status(self, status, message=""):
        """Pick a status and message in the selector and submit them."""
        self.page.get_by_label("Status", exact=True).select_option(status)
        self.page.get_by_label("Message").fill(message)
        self.page.get_by_role("button", name="Update status").click()

    def open_chat(self, chat_id):
        self.page.get_by_label("Chat id").fill(chat_id)
        self.page.get_by_role("button", name="Open chat").click()
        expect(self.page.locator("#chat-current")).to_have_text(f"Chat {chat_id}", timeout=TIMEOUT_MS)

    def type(self, text):
        """Type into the reply box key by key, as a person does."""
        self.page.locator("#chat-input").press_sequentially(text)

    def send(self):
        self.page.get_by_role("button", name="Send").click()

    def leave_chat(self):
        self.page.get_by_role("button", name="Leave chat").click()
        expect(self.page.locator("#chat-current")).to_have_text("No chat open.", timeout=TIMEOUT_MS)

    @property
    def typing(self):
        """The typing indicator of the open chat."""
        return self.page.locator("#typing")

    def shot(self, step):
        """Save a screenshot as a test artifact; return its path."""
        path = f"{self.prefix}-{self.slug}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self):
        self.page.close()
