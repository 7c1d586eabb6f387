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

    def set_status(self, status, message="", reason=None, minutes=None):
        """Pick a status, message, reason (by label) and duration in "My status" and submit them."""
        mine = self.my_status
        mine.get_by_label("Status", exact=True).select_option(status)
        mine.get_by_label("Message").fill(message)
        if reason is not None:
            mine.get_by_label("Reason").select_option(label=reason)
        if minutes is not None:
            mine.get_by_label("For how long").fill(str(minutes))
        mine.get_by_role("button", name="Update status").click()

    @property
    def my_status(self):
        """The "My status" form."""
        return self.page.locator("#status-form")

    def count(self, kind, scope="org"):
        """The count of agents in a status (or "available", "total") of the org or of a team."""
        return self.page.locator(f"#counts-body tr[data-scope='{scope}'] td.{kind}")

    def counted_scopes(self):
        """The rows of the counts table: "org", then team ids."""
        return self.page.locator("#counts-body tr")

    def next_page(self):
        self.page.get_by_role("button", name="Next page").click()

    def previous_page(self):
        self.page.get_by_role("button", name="Previous page").click()

    @property
    def page_info(self):
        return self.page.locator("#page-info")

    # the supervisor view

    def pick_team(self, team):
        """Show one team ("" for the whole org)."""
        self.page.get_by_label("Team", exact=True).select_option(team)

    def filter_roster(self, status="", available=False):
        self.page.get_by_label("Show").select_option(status)
        self.page.get_by_label("Available only").set_checked(available)

    def roster_names(self):
        return self.page.locator("#roster-body td.name")

    def force(self, agent_name, status, message="", reason=None):
        """Force an agent's status from the supervisor view."""
        self.page.get_by_label("Agent", exact=True).select_option(label=agent_name)
        self.page.get_by_label("New status").select_option(status)
        self.page.get_by_label("Their message").fill(message)
        if reason is not None:
            self.page.get_by_label("Their reason").select_option(label=reason)
        self.page.get_by_role("button", name="Force status").click()

    def report_cell(self, name, kind):
        """A cell of today's time-in-status table: the row of agent `name`, column `kind`."""
        row = self.page.locator("#report-body tr").filter(has=self.page.locator("th.name", has_text=name))
        return row.locator(f"td.{kind}")

    @property
    def alerts(self):
        return self.page.locator("#alerts li")

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

    def hear_states(self):
        """From now on, note the presence_state data the page's socket receives; returns a reader of them."""
        self.page.evaluate("""() => {
            window.heardStates = [];
            PresenceConsole.client().socket.on("presence_state", (message) => heardStates.push(message.data));
        }""")
        return lambda: self.page.evaluate("window.heardStates")

    def cut_socket(self):
        """Drop the connection under the page, as a network does: the client library reconnects by itself."""
        self.page.evaluate("PresenceConsole.client().socket.io.engine.close()")

    def shot(self, step):
        """Save a screenshot as a test artifact; return its path."""
        path = f"{self.prefix}-{self.slug}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self):
        self.page.close()
