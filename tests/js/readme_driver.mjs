// Runs the README's front-end module (its path is argv[3]) against argv[2], driven by
// tests/test_readme_frontend.py: one JSON command per stdin line, one JSON line per happening.
//   {"cmd": "connect", "token": "..."}                          then callbacks: roster, change, typing, refused
//   {"cmd": "token", "token": "..."}                            what getToken() answers from now on
//   {"cmd": "call", "id": 1, "method": "setStatus", "args": []} -> result | error
//   {"cmd": "roster", "id": 2}                                  -> roster_now
//   {"cmd": "tick", "id": 3, "ms": 30000}                       -> ticked (setInterval runs on a mock clock)
import { mock } from "node:test";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

mock.timers.enable({ apis: ["setInterval"] });
const [url, modulePath] = process.argv.slice(2);
const { connectPresence } = await import(pathToFileURL(modulePath));
let token = null;
let presence = null;

function out(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const agents = (roster) => [...roster.values()];

const commands = {
  connect(command) {
    token = command.token;
    presence = connectPresence(url, async () => token, {
      roster: (roster) => out({ type: "roster", agents: agents(roster) }),
      change: (data) => out({ type: "change", data }),
      typing: (data, isTyping) => out({ type: "typing", data, typing: isTyping }),
      refused: (error) => out({ type: "refused", error }),
    });
    presence.socket.on("connect", () => out({ type: "connected" }));
  },
  token: (command) => (token = command.token),
  async call({ id, method, args }) {
    try {
      out({ type: "result", id, value: (await presence[method](...args)) ?? null });
    } catch (error) {
      out({ type: "error", id, message: error.message, code: error.code ?? null });
    }
  },
  roster: ({ id }) => out({ type: "roster_now", id, agents: agents(presence.roster) }),
  tick({ id, ms }) {
    mock.timers.tick(ms);
    out({ type: "ticked", id });
  },
};

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const command = JSON.parse(line);
  commands[command.cmd](command);
});
lines.on("close", () => {
  presence?.close();
  process.exit(0);
});
