// Agent console: a small reference client of presence_app's REST and Socket.IO contract.
// Plain JavaScript, no build step; the only library is the vendored socket.io-client (global `io`).
// idle.js and supervisor.js build on the small surface this file exposes as window.PresenceConsole
// and on the "presence:*" events it dispatches on document.
(function () {
  "use strict";

  const HEARTBEAT_MS = 30000;
  const TYPING_IDLE_MS = 3000;
  // Renew well inside the server's 30 s typing timeout, so a long reply never goes stale.
  const TYPING_RENEW_MS = 10000;
  const CLOCK_TICK_MS = 15000;
  const ACK_TIMEOUT_MS = 10000;
  const CHAT_ID = /^[A-Za-z0-9_.:@+\-]{1,64}$/;
  const SESSION_KEY = "presence_app.session";
  const LABELS = { online: "Online", busy: "Busy", away: "Away", offline: "Offline" };

  const $ = (id) => document.getElementById(id);

  const state = {
    session: null, // {access_token, agent_id, name, org, role, expires_at}
    socket: null,
    shownSeq: null, // seq of my presence the status form last showed
    roster: new Map(), // agent_id -> presence object
    codes: [], // the org's reason codes: {code, label, statuses, max_minutes}
    filter: { status: "", available: false }, // the roster's filter (supervisors set it)
    clockOffsetMs: 0, // server clock minus this browser's clock
    chatId: null,
    typers: new Map(), // agent_id -> display name, in the open chat
    typing: { active: false, sentAt: 0, idleTimer: null },
    intervals: [],
    resyncing: null, // the sync request in flight, if any
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
    stopTyping();
    state.intervals.forEach(clearInterval);
    state.intervals = [];
    if (state.socket) state.socket.disconnect();
    sessionStorage.removeItem(SESSION_KEY);
    Object.assign(state, { session: null, socket: null, chatId: null, shownSeq: null });
    state.roster.clear();
    state.typers.clear();
    showLogin(reason || "");
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
    $("login-view").hidden = true;
    $("console-view").hidden = false;
    $("whoami").hidden = false;
    $("sign-out").hidden = false;
    $("me-name").textContent = session.name;
    $("me-role").textContent = session.role === "supervisor" ? "(supervisor)" : "";
    connect(session.access_token);
    state.intervals.push(setInterval(sendHeartbeat, HEARTBEAT_MS));
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
        const mine = state.roster.get(state.session.agent_id);
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

  // ---- socket ---------------------------------------------------------------

  function connect(token) {
    setConnection("connecting", "Connecting…");
    const socket = io({ auth: { token } });
    state.socket = socket;
    socket.on("connect", onConnect);
    socket.on("disconnect", onDisconnect);
    socket.on("connect_error", onConnectError);
    socket.on("presence_state", (msg) => rebuildRoster(msg.data));
    socket.on("agent_presence_changed", (msg) => applyChange(msg.data));
    socket.on("typing_start", (msg) => onTyping(msg.data, true));
    socket.on("typing_stop", (msg) => onTyping(msg.data, false));
    socket.on("agent_status_overrun", (msg) => emit("overrun", msg.data));
  }

  function onConnect() {
    setConnection("connected", "Connected");
    // Rooms do not survive a reconnect: join the open chat again; its ack says who types there now.
    if (state.chatId) request("join_chat", { chat_id: state.chatId }).then(showTypers).catch(showChatError);
    sendHeartbeat();
  }

  // A seq gap means a change was missed: read the roster (and the open chat's typing) again.
  function resync() {
    if (state.resyncing) return;
    state.resyncing = request("sync", {})
      .then((ack) => {
        rebuildRoster(ack);
        showTypers({ typing: ack.typing.filter((t) => t.chat_id === state.chatId) });
      })
      .catch((error) => console.warn("sync:", error.message))
      .finally(() => {
        state.resyncing = null;
      });
  }

  function showTypers(ack) {
    state.typers.clear();
    ack.typing.forEach((t) => {
      if (t.agent_id !== state.session.agent_id) state.typers.set(t.agent_id, t.from);
    });
    renderTyping();
  }

  function onDisconnect(reason) {
    // Typing events missed while away would leave indicators stuck: start clean.
    state.typers.clear();
    state.typing.active = false;
    renderTyping();
    if (state.socket && state.socket.active) {
      setConnection("reconnecting", "Reconnecting…");
    } else if (reason === "io server disconnect") {
      setConnection("offline", "Disconnected by the server");
    }
  }

  function onConnectError(error) {
    // Refused by the server (bad or expired token): socket.io will not retry, so sign in again.
    if (state.socket && !state.socket.active) {
      signOut("Please sign in again: " + error.message);
      return;
    }
    setConnection("reconnecting", "Reconnecting…");
  }

  // An event with an ack, as a promise; refused at once when offline so nothing stale is queued.
  function request(event, data) {
    const socket = state.socket;
    if (!socket || !socket.connected) return Promise.reject(new Error("not connected; try again in a moment"));
    return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, data).then((ack) => {
      if (!ack || !ack.ok) throw new Error((ack && ack.message) || event + " failed");
      return ack;
    });
  }

  function sendHeartbeat() {
    request("heartbeat", {})
      .then((ack) => setServerTime(ack.server_time))
      .catch((error) => console.warn("heartbeat:", error.message));
  }

  function setServerTime(serverTime) {
    const parsed = Date.parse(serverTime);
    if (!Number.isNaN(parsed)) state.clockOffsetMs = parsed - Date.now();
  }

  // ---- my status ------------------------------------------------------------

  function submitStatus(event) {
    event.preventDefault();
    $("status-error").textContent = "";
    const body = { status: $("status").value, message: $("status-message").value.trim() };
    if ($("status-reason").value) body.reason_code = $("status-reason").value;
    if ($("status-minutes").value) body.for_minutes = Number($("status-minutes").value);
    request("set_status", body)
      .then((ack) => {
        $("status-minutes").value = "";
        showUntil(ack.presence);
      })
      .catch((error) => {
        $("status-error").textContent = error.message;
      });
  }

  function showMyStatus(agent) {
    showUntil(agent);
    // Do not overwrite what the agent is editing: the form follows a new change of mine (a new seq),
    // never the same presence seen again (a heartbeat's answer, a resync), nor a focused field.
    if (agent.seq === state.shownSeq) return;
    const focused = document.activeElement;
    if ($("status-form").contains(focused) && focused.tagName !== "BUTTON") return;
    state.shownSeq = agent.seq;
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

  // The change events do not carry status_until: ask for my presence when mine changed.
  function refreshMe() {
    api("GET", "presence/me/")
      .then((me) => {
        const known = state.roster.get(me.agent_id);
        if (!known || me.seq >= known.seq) state.roster.set(me.agent_id, me);
        showMyStatus(me);
      })
      .catch((error) => console.warn("presence/me:", error.message));
  }

  // ---- roster -----------------------------------------------------------------

  function rebuildRoster(data) {
    setServerTime(data.server_time);
    state.roster.clear();
    data.agents.forEach((agent) => state.roster.set(agent.agent_id, agent));
    const mine = state.roster.get(state.session.agent_id);
    if (mine) showMyStatus(mine);
    renderRoster();
  }

  function applyChange(change) {
    const known = state.roster.get(change.agent_id);
    if (known && change.seq <= known.seq) return; // stale or duplicate
    if (known && change.seq > known.seq + 1) resync(); // missed one: this change is applied, the rest comes back
    const agent = Object.assign({ agent_id: change.agent_id, status_changed_at: null }, known, {
      name: change.name,
      status: change.status,
      status_message: change.message,
      websocket_connected: change.websocket_connected,
      is_available: change.is_available,
      reason_code: change.reason_code,
      seq: change.seq,
    });
    if (change.status !== change.previous_status) agent.status_changed_at = change.timestamp;
    state.roster.set(agent.agent_id, agent);
    if (agent.agent_id === state.session.agent_id) {
      showMyStatus(agent);
      refreshMe();
    }
    announce(known, agent);
    renderRoster();
  }

  function announce(before, after) {
    let news = "";
    if (!before || before.status !== after.status) news = after.name + " is now " + LABELS[after.status];
    else if (before.websocket_connected !== after.websocket_connected)
      news = after.name + (after.websocket_connected ? " connected" : " disconnected");
    if (news) $("roster-news").textContent = news;
  }

  function renderRoster() {
    const { status, available } = state.filter;
    const agents = Array.from(state.roster.values())
      .filter((a) => (!status || a.status === status) && (!available || a.is_available))
      .sort((a, b) => a.name.localeCompare(b.name));
    $("roster-body").replaceChildren(...agents.map(rosterRow));
    emit("roster", state.roster);
  }

  function rosterRow(agent) {
    const row = document.createElement("tr");
    row.dataset.agentId = agent.agent_id;
    row.dataset.status = agent.status;
    const you = agent.agent_id === state.session.agent_id ? " (you)" : "";
    row.append(
      cell("name", agent.name + you),
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
    time.textContent = formatDuration(Date.now() + state.clockOffsetMs - Date.parse(since));
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
    request("join_chat", { chat_id: chatId })
      .then((ack) => {
        state.chatId = chatId;
        renderChat();
        showTypers(ack);
        $("chat-input").focus();
      })
      .catch(showChatError);
  }

  function leaveChat() {
    if (!state.chatId) return;
    stopTyping();
    request("leave_chat", { chat_id: state.chatId }).catch(showChatError);
    state.chatId = null;
    state.typers.clear();
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
    if (!$("chat-input").value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (!state.typing.active || now - state.typing.sentAt > TYPING_RENEW_MS) {
      state.typing.active = true;
      state.typing.sentAt = now;
      notifyTyping("typing_start", state.chatId);
    }
    clearTimeout(state.typing.idleTimer);
    state.typing.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typing.idleTimer);
    if (!state.typing.active) return;
    state.typing.active = false;
    notifyTyping("typing_stop", state.chatId);
  }

  function notifyTyping(event, chatId) {
    request(event, { chat_id: chatId }).catch((error) => console.warn(event + ":", error.message));
  }

  function sendReply(event) {
    event.preventDefault();
    // The service carries no messages: sending only clears the input and ends typing.
    stopTyping();
    $("chat-input").value = "";
  }

  function onTyping(data, started) {
    // The indicator is for the others: an agent's own tabs never show it.
    if (data.chat_id !== state.chatId || data.agent_id === state.session.agent_id) return;
    if (started) state.typers.set(data.agent_id, data.from);
    else state.typers.delete(data.agent_id);
    renderTyping();
  }

  function renderTyping() {
    const names = Array.from(state.typers.values());
    let text = "";
    if (names.length === 1) text = names[0] + " is typing…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
    else if (names.length > 2) text = names.length + " people are typing…";
    $("typing").textContent = text;
  }

  // ---- start ----------------------------------------------------------------

  window.PresenceConsole = {
    LABELS,
    api,
    fetchApi,
    request,
    fillReasons,
    codeLabel,
    session: () => state.session,
    roster: () => state.roster,
    serverNow: () => Date.now() + state.clockOffsetMs,
    setFilter(filter) {
      state.filter = Object.assign({}, state.filter, filter);
      renderRoster();
    },
  };

  function init() {
    $("login-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut());
    $("status-form").addEventListener("submit", submitStatus);
    $("status").addEventListener("change", () => fillReasons($("status-reason"), $("status").value));
    $("chat-open-form").addEventListener("submit", openChat);
    $("chat-leave").addEventListener("click", leaveChat);
    $("chat-form").addEventListener("submit", sendReply);
    $("chat-input").addEventListener("input", onChatInput);
    window.addEventListener("pagehide", stopTyping);
    // idle.js and supervisor.js (deferred after this file) listen before the console starts.
    document.addEventListener("DOMContentLoaded", () => {
      const session = loadSession();
      if (session) startConsole(session);
      else showLogin("");
    });
  }

  init();
})();
