// The official socket.io-client, driven by tests/test_js_client.py: one JSON command per
// stdin line, one JSON line on stdout for everything that happens.
//   {"cmd": "connect", "id": 1, "auth": {"token": "..."}, "options": {}} -> connected | connect_error
//   {"cmd": "emit", "id": 2, "event": "join_chat", "data": {...}}         -> ack
//   {"cmd": "close", "id": 3}                                             -> closed
// Every server event arrives as {"type": "event", "event": name, "payload": envelope}.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const url = process.argv[2];
let socket = null;

function out(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function connect({ id, auth, options }) {
  socket?.disconnect();
  socket = io(url, { auth, reconnection: false, forceNew: true, ...options });
  socket.onAny((event, payload) => out({ type: "event", event, payload }));
  socket.io.engine?.on("upgrade", (transport) => out({ type: "upgrade", transport: transport.name }));
  socket.on("connect", () =>
    out({ type: "connected", id, sid: socket.id, transport: socket.io.engine.transport.name }));
  socket.on("connect_error", (err) =>
    out({ type: "connect_error", id, message: err.message, data: err.data ?? null }));
  socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
}

async function emit({ id, event, data }) {
  try {
    const ack = await socket.timeout(10000).emitWithAck(event, data);
    out({ type: "ack", id, ack });
  } catch (err) {
    out({ type: "ack_error", id, message: err.message });
  }
}

const commands = {
  connect,
  emit,
  close: ({ id }) => {
    socket?.disconnect();
    out({ type: "closed", id });
  },
};

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const command = JSON.parse(line);
  commands[command.cmd](command);
});
lines.on("close", () => {
  socket?.disconnect();
  process.exit(0);
});
