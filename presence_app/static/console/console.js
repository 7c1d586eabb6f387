// Agent console: the page over presence-app-client (static/vendor/presence-app-client.js, built from
// clients/js), which owns the roster, seq, gaps, resyncs, reconnects, typing and status calls.
// This file signs in, draws the roster, the counts, my status and the chat, and exposes to idle.js and
// supervisor.js the small surface `PresenceConsole` below and the "presence:*" events it dispatches.
import { createPresenceClient } from "../vendor/presence-app-client.js";

const HEARTBEAT_MS = 30000;
const CLOCK_TICK_MS = 15000;
const PAGE_SIZE = 20;
const CHAT_ID = /^[A-Za-z0-9_.:@+\-]{1,64}$/;
const SESSION_KEY = "presence_app.session";
const STATUSES = ["online", "busy", "away", "offline"];
export const LABELS = { online: "Online", busy: "Busy", away: "Away", offline: "Offline" };
const CONNECTION = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…" };

const $ = (id) => document.getElementById(id);

const state = {
  session: null, // {access_token, agent_id, name, org, role, expires_at}
  client: null, // the presence-app-client
  shown: new Map(), // agent_id -> the presence last drawn (to announce what changed)
  shownStatus: null, // the status, message and reason code the status form last showed
  codes: [], // the org's reason codes: {code, label, statuses, max_minutes}
  view: { team: "", status: "", available: false, page: 0, title: "" }, // the roster's filter and page
  counts: { org: null, teams: {} }, // the latest numbers: the org's and each team's heard of
  chatId: null,
  intervals: [],
};

// ---- session -------------------------------------------------------------

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return session && session.expires_at > Date.now() ? session : null;
  } catch (_error) {
    return null;
  }
}

function saveSession(login) {
  const session = Object.assign({}, login, { expires_at: Date.now() + login.expires_in * 1000 });
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const body = { email: $("email").value.trim(), password: $("password").value };
  try {
    const response = await fetch("api/v1/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message || "sign-in failed");
    $("password").value = "";
    startConsole(saveSession(answer));
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

function signOut(reason) {
  emit("stopped");
  state.intervals.forEach(clearInterval);
  state.intervals = [];
  if (state.client) state.client.close();
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, { session: null, client: null, chatId: null, shownStatus: null, counts: { org: null, teams: {} } });
  state.shown.clear();
  showLogin(reason || "");
}

/** The token's teams claim (read, not verified: the server does that). */
function teamsOf(token) {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return Array.isArray(claims.teams) ? claims.teams : [];
  } catch (_error) {
    return [];
  }
}

// ---- views ----------------------------------------------------------------

function showLogin(message) {
  $("console-view").hidden = true;
  $("whoami").hidden = true;
  $("sign-out").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message;
  setConnection("idle", "Not connected");
  renderChat();
  $("email").focus();
}

function startConsole(session) {
  state.session = session;
  session.teams = teamsOf(session.access_token);
  $("login-view").hidden = true;
  $("console-view").hidden = false;
  $("whoami").hidden = false;
  $("sign-out").hidden = false;
  $("me-name").textContent = session.name;
  $("me-role").textContent = session.role === "supervisor" ? "(supervisor)" : "";
  // An agent's console hears its own teams (the whole org when it has none); a supervisor's the whole org.
  const teams = session.role === "supervisor" ? [] : session.teams;
  state.view.title = teams.length ? "Team " + teams.join(", ") : "Whole org";
  connect(session.access_token, teams);
  state.intervals.push(setInterval(heartbeat, HEARTBEAT_MS));
  state.intervals.push(setInterval(renderRoster, CLOCK_TICK_MS));
  loadCodes();
  emit("started", session);
}

function emit(name, detail) {
  document.dispatchEvent(new CustomEvent("presence:" + name, { detail }));
}

// ---- REST -----------------------------------------------------------------

// A call to the REST API with this session's token; resolves to the response, rejects with the message.
async function fetchApi(method, path, body) {
  const headers = { Authorization: "Bearer " + state.session.access_token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("api/v1/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.message || method + " " + path + " failed (" + response.status + ")");
  }
  return response;
}

function api(method, path, body) {
  return fetchApi(method, path, body).then((response) => response.json());
}

// The org's reason codes; a failed load is retried (a busy server must not leave the pickers empty).
function loadCodes(retryMs = 1000) {
  const session = state.session;
  api("GET", "reason-codes/")
    .then((answer) => {
      state.codes = answer.codes;
      const mine = me();
      fillReasons($("status-reason"), $("status").value, mine ? mine.reason_code : undefined);
      renderRoster();
      emit("codes", state.codes);
    })
    .catch((error) => {
      console.warn("reason codes:", error.message);
      if (state.session === session) setTimeout(() => loadCodes(Math.min(retryMs * 2, 30000)), retryMs);
    });
}

// Fill a <select> with "No reason" and the org's codes allowed for `status`, keeping the choice if it still fits.
function fillReasons(select, status, chosen) {
  const keep = chosen === undefined ? select.value : chosen || "";
  const options = [new Option("No reason", "")];
  state.codes.filter((c) => c.statuses.includes(status)).forEach((c) => options.push(new Option(c.label, c.code)));
  select.replaceChildren(...options);
  select.value = options.some((o) => o.value === keep) ? keep : "";
}

function codeLabel(code) {
  const found = state.codes.find((c) => c.code === code);
  return found ? found.label : code || "";
}

function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection").textContent = text;
}

// ---- the client -------------------------------------------------------------

function connect(token, teams) {
  setConnection("connecting", CONNECTION.connecting);
  const client = createPresenceClient({
    token, mode: "diff", counts: true, subscribe: teams.length ? { teams } : undefined,
  });
  state.client = client;
  client.on("state", onState);
  client.on("change", onChange);
  client.on("counts", onCounts);
  client.on("typing", (typing) => typing.chat_id === state.chatId && renderTyping());
  client.on("overrun", (overrun) => emit("overrun", overrun));
  client.on("error", (error) => console.warn("presence:", error.code, error.message));
}

function onState(connection, reason) {
  if (connection === "closed") {
    // Refused for good (an expired or revoked session): the page can only sign in again.
    if (reason !== "closed") signOut("Please sign in again (" + reason + ")");
    return;
  }
  setConnection(connection, CONNECTION[connection]);
  if (connection === "connected") heartbeat();
  renderTyping();
}

function heartbeat() {
  if (state.client) state.client.heartbeat().catch((error) => console.warn("heartbeat:", error.message));
}

function me() {
  return state.client && state.session ? state.client.agent(state.session.agent_id) : undefined;
}

function onChange(change) {
  for (const agent of change.agents) announce(state.shown.get(agent.agent_id), agent);
  const mine = me();
  if (mine) showMyStatus(mine);
  renderRoster();
}

function announce(before, after) {
  let news = "";
  if (!before || before.status !== after.status) news = after.name + " is now " + LABELS[after.status];
  else if (before.websocket_connected !== after.websocket_connected)
    news = after.name + (after.websocket_connected ? " connected" : " disconnected");
  if (news) $("roster-news").textContent = news;
}

// ---- my status ------------------------------------------------------------

function submitStatus(event) {
  event.preventDefault();
  $("status-error").textContent = "";
  const change = { status: $("status").value, message: $("status-message").value.trim() };
  if ($("status-reason").value) change.reasonCode = $("status-reason").value;
  if ($("status-minutes").value) change.forMinutes = Number($("status-minutes").value);
  state.client.setStatus(change)
    .then((presence) => {
      $("status-minutes").value = "";
      showUntil(presence);
    })
    .catch((error) => {
      $("status-error").textContent = error.message;
    });
}

function showMyStatus(agent) {
  showUntil(agent);
  // Do not overwrite what the agent is editing: the form follows a new status of mine, never the
  // same one seen again (a resync, a reconnect, a change of my connection only), nor a focused field.
  const shown = [agent.status, agent.status_message, agent.reason_code].join("\n");
  if (shown === state.shownStatus) return;
  const focused = document.activeElement;
  if ($("status-form").contains(focused) && focused.tagName !== "BUTTON") return;
  state.shownStatus = shown;
  $("status").value = agent.status;
  $("status-message").value = agent.status_message || "";
  fillReasons($("status-reason"), agent.status, agent.reason_code);
}

function showUntil(agent) {
  const until = agent.status_until ? new Date(agent.status_until) : null;
  $("status-until").textContent = until
    ? "Until " + until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ", then back to the status before"
    : "";
}

// ---- counts -------------------------------------------------------------------

function onCounts(counts) {
  state.counts.org = counts.org;
  Object.assign(state.counts.teams, counts.teams);
  renderCounts();
}

// Numbers of every team heard of, newer ones over older (supervisor.js adds those of GET /presence/counts/).
function mergeCounts(counts, replace) {
  state.counts.org = counts.org;
  state.counts.teams = Object.assign(replace ? {} : state.counts.teams, counts.teams);
  renderCounts();
}

function renderCounts() {
  const { org, teams } = state.counts;
  if (!org) return;
  const rows = [countsRow("org", "Whole org", org)];
  for (const team of Object.keys(teams).sort()) rows.push(countsRow(team, team, teams[team]));
  $("counts-body").replaceChildren(...rows);
  emit("counts", state.counts);
}

function countsRow(scope, label, numbers) {
  const tr = document.createElement("tr");
  tr.dataset.scope = scope;
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = label;
  tr.append(name);
  for (const kind of [...STATUSES, "available", "total"]) tr.append(cell(kind, String(numbers[kind])));
  return tr;
}

// ---- roster -----------------------------------------------------------------

function setView(view) {
  Object.assign(state.view, view);
  renderRoster();
}

function renderRoster() {
  if (!state.client) return;
  const { team, status, available } = state.view;
  const all = state.client.agents();
  state.shown = new Map(all.map((agent) => [agent.agent_id, agent]));
  // A subscription always covers its own agent: one team's view shows only that team's members.
  const agents = all
    .filter((a) => !team || (a.teams || []).includes(team))
    .filter((a) => (!status || a.status === status) && (!available || a.is_available))
    .sort((a, b) => a.name.localeCompare(b.name) || a.agent_id - b.agent_id);
  const pages = Math.max(1, Math.ceil(agents.length / PAGE_SIZE));
  const page = Math.min(state.view.page, pages - 1);
  state.view.page = page;
  $("roster-title").textContent = state.view.title;
  $("roster-body").replaceChildren(...agents.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map(rosterRow));
  $("pager").hidden = pages === 1;
  $("page-info").textContent = agents.length
    ? "Agents " + (page * PAGE_SIZE + 1) + "–" + Math.min(agents.length, (page + 1) * PAGE_SIZE) + " of " + agents.length
    : "No agents";
  $("page-prev").disabled = page === 0;
  $("page-next").disabled = page >= pages - 1;
  emit("roster", all);
}

function rosterRow(agent) {
  const row = document.createElement("tr");
  row.dataset.agentId = agent.agent_id;
  row.dataset.status = agent.status;
  const you = agent.agent_id === state.session.agent_id ? " (you)" : "";
  row.append(
    cell("name", agent.name + you),
    cell("teams", (agent.teams || []).join(", ")),
    statusCell(agent),
    cell("reason", codeLabel(agent.reason_code)),
    cell("message", agent.status_message || ""),
    cell("connection", agent.websocket_connected ? "Connected" : "Disconnected"),
    timeCell(agent.status_changed_at),
  );
  return row;
}

function cell(kind, text) {
  const td = document.createElement("td");
  td.className = kind;
  td.textContent = text;
  return td;
}

function statusCell(agent) {
  const td = cell("status", "");
  const dot = document.createElement("span");
  dot.className = "dot dot-" + agent.status;
  dot.setAttribute("aria-hidden", "true");
  const label = document.createElement("span");
  label.className = "status-label";
  label.textContent = LABELS[agent.status] || agent.status;
  td.append(dot, label);
  if (agent.is_available) td.title = "Available for new chats";
  return td;
}

function timeCell(since) {
  const td = cell("since", "");
  if (!since) return td;
  const time = document.createElement("time");
  time.dateTime = since;
  time.textContent = formatDuration(state.client.serverNow() - Date.parse(since));
  td.append(time);
  return td;
}

function formatDuration(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return minutes + " min";
  return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
}

// ---- chat and typing ------------------------------------------------------

function openChat(event) {
  event.preventDefault();
  const chatId = $("chat-id").value.trim();
  $("chat-error").textContent = "";
  if (!CHAT_ID.test(chatId)) {
    showChatError(new Error("A chat id is 1 to 64 letters, digits or _ . : @ + -"));
    return;
  }
  if (chatId === state.chatId) return;
  if (state.chatId) leaveChat();
  state.client.joinChat(chatId)
    .then(() => {
      state.chatId = chatId;
      renderChat();
      $("chat-input").focus();
    })
    .catch(showChatError);
}

function leaveChat() {
  if (!state.chatId) return;
  const chatId = state.chatId;
  stopTyping();
  state.chatId = null;
  state.client.leaveChat(chatId).catch(showChatError);
  renderChat();
}

function showChatError(error) {
  $("chat-error").textContent = error.message;
}

function renderChat() {
  const open = Boolean(state.chatId);
  $("chat-current").textContent = open ? "Chat " + state.chatId : "No chat open.";
  $("chat-input").disabled = !open;
  $("chat-send").disabled = !open;
  $("chat-leave").disabled = !open;
  if (!open) $("chat-input").value = "";
  renderTyping();
}

function onChatInput() {
  if (!state.chatId) return;
  if ($("chat-input").value.trim()) state.client.typing(state.chatId).touch();
  else stopTyping();
}

function stopTyping() {
  if (state.client && state.chatId) state.client.typing(state.chatId).stop().catch((e) => console.warn("typing:", e.message));
}

function sendReply(event) {
  event.preventDefault();
  // The service carries no messages: sending only clears the input and ends typing.
  stopTyping();
  $("chat-input").value = "";
}

function renderTyping() {
  const names = state.client && state.chatId ? state.client.typers(state.chatId).map((t) => t.from) : [];
  let text = "";
  if (names.length === 1) text = names[0] + " is typing…";
  else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
  else if (names.length > 2) text = names.length + " people are typing…";
  $("typing").textContent = text;
}

// ---- start ----------------------------------------------------------------

export const PresenceConsole = {
  LABELS,
  api,
  fetchApi,
  fillReasons,
  codeLabel,
  mergeCounts,
  setView,
  client: () => state.client,
  session: () => state.session,
  serverNow: () => (state.client ? state.client.serverNow() : Date.now()),
};
window.PresenceConsole = PresenceConsole; // for a look from the browser's devtools

function init() {
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("status-form").addEventListener("submit", submitStatus);
  $("status").addEventListener("change", () => fillReasons($("status-reason"), $("status").value));
  $("chat-open-form").addEventListener("submit", openChat);
  $("chat-leave").addEventListener("click", leaveChat);
  $("chat-form").addEventListener("submit", sendReply);
  $("chat-input").addEventListener("input", onChatInput);
  $("page-prev").addEventListener("click", () => setView({ page: state.view.page - 1 }));
  $("page-next").addEventListener("click", () => setView({ page: state.view.page + 1 }));
  window.addEventListener("pagehide", stopTyping);
  // idle.js and supervisor.js (modules run in order, all before DOMContentLoaded) listen before the console starts.
  document.addEventListener("DOMContentLoaded", () => {
    const session = loadSession();
    if (session) startConsole(session);
    else showLogin("");
  });
}

init();
