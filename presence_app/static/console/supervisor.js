// The supervisor view: the whole org or one team (a team picker, the roster a page at a time), the counts
// of every team, roster filters, forcing an agent's status, today's time in status (with a CSV download),
// and overrun alerts. Shown only to supervisors; the server enforces it.
import { PresenceConsole } from "./console.js";

const $ = (id) => document.getElementById(id);
const STATUSES = ["online", "busy", "away", "offline"];
// While one team is picked its socket hears that team's numbers only: the others' are read this often.
const ALL_COUNTS_MS = 10000;
let active = false;
let countsTimer = null;

function start(event) {
  active = event.detail.role === "supervisor";
  $("team-tools").hidden = !active;
  $("supervisor-view").hidden = !active;
  if (!active) return;
  $("alerts").replaceChildren();
  renderAlertsHint();
  $("team-picker").value = "";
  PresenceConsole.fillReasons($("force-reason"), $("force-status").value);
  loadCounts();
  loadReport();
}

function stop() {
  active = false;
  clearInterval(countsTimer);
  $("team-tools").hidden = true;
  $("supervisor-view").hidden = true;
  PresenceConsole.setView({ team: "", status: "", available: false, page: 0 });
}

// ---- teams, counts and filters ----------------------------------------------

// Every team's numbers (GET /presence/counts/); presence_counts keeps those the socket hears up to date.
function loadCounts() {
  PresenceConsole.api("GET", "presence/counts/")
    .then((counts) => active && PresenceConsole.mergeCounts(counts, true))
    .catch((error) => console.warn("counts:", error.message));
}

function onCounts(event) {
  if (!active) return;
  const picker = $("team-picker");
  const chosen = picker.value;
  const teams = Object.keys(event.detail.teams).sort();
  if (teams.join("\n") === Array.from(picker.options).slice(1).map((o) => o.value).join("\n")) return;
  picker.replaceChildren(new Option("Whole org", ""), ...teams.map((team) => new Option(team, team)));
  picker.value = chosen;
}

// The roster becomes one team (or the whole org again): the client's subscription, so the socket hears only it.
function pickTeam() {
  const team = $("team-picker").value;
  const client = PresenceConsole.client();
  clearInterval(countsTimer);
  if (team) countsTimer = setInterval(loadCounts, ALL_COUNTS_MS);
  client.subscribe(team ? { teams: [team], counts: true } : { counts: true })
    .then(() => PresenceConsole.setView({ team, title: team ? "Team " + team : "Whole org", page: 0 }))
    .catch((error) => console.warn("presence_sub:", error.message));
}

function onRoster(event) {
  if (active) fillAgents(event.detail);
}

function applyFilter() {
  PresenceConsole.setView({ status: $("filter-status").value, available: $("filter-available").checked, page: 0 });
}

// ---- force status ---------------------------------------------------------

function fillAgents(agents) {
  const select = $("force-agent");
  const chosen = select.value;
  const me = PresenceConsole.session().agent_id;
  const options = agents
    .filter((a) => a.agent_id !== me)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((a) => new Option(a.name, String(a.agent_id)));
  select.replaceChildren(...options);
  if (options.some((o) => o.value === chosen)) select.value = chosen;
}

function forceStatus(event) {
  event.preventDefault();
  $("force-error").textContent = "";
  $("force-done").textContent = "";
  const agentId = $("force-agent").value;
  const name = $("force-agent").selectedOptions[0] ? $("force-agent").selectedOptions[0].text : "";
  const body = { status: $("force-status").value, message: $("force-message").value.trim() };
  if ($("force-reason").value) body.reason_code = $("force-reason").value;
  PresenceConsole.api("POST", "presence/" + encodeURIComponent(agentId) + "/set-status/", body)
    .then((presence) => {
      $("force-done").textContent = name + " is now " + PresenceConsole.LABELS[presence.status];
      $("force-message").value = "";
    })
    .catch((error) => {
      $("force-error").textContent = error.message;
    });
}

// ---- today's time in status -----------------------------------------------

// Today in the supervisor's own time zone: from local midnight to the next one (the server stops at now).
function today() {
  const since = new Date(PresenceConsole.serverNow());
  since.setHours(0, 0, 0, 0);
  const until = new Date(since);
  until.setDate(until.getDate() + 1);
  return "since=" + encodeURIComponent(since.toISOString()) + "&until=" + encodeURIComponent(until.toISOString());
}

function loadReport() {
  $("report-error").textContent = "";
  PresenceConsole.api("GET", "reports/time-in-status/?" + today())
    .then((report) => $("report-body").replaceChildren(...report.rows.map(reportRow)))
    .catch((error) => {
      $("report-error").textContent = error.message;
    });
}

function reportRow(row) {
  const tr = document.createElement("tr");
  tr.dataset.agentId = row.agent_id;
  const name = document.createElement("th");
  name.scope = "row";
  name.className = "name";
  name.textContent = row.name;
  tr.append(name, ...STATUSES.map((s) => durationCell(s, row.seconds[s])),
    durationCell("available", row.available_seconds));
  return tr;
}

function durationCell(kind, seconds) {
  const td = document.createElement("td");
  td.className = kind;
  td.dataset.seconds = String(seconds);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  td.textContent = h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  return td;
}

function downloadCsv() {
  $("report-error").textContent = "";
  PresenceConsole.fetchApi("GET", "reports/time-in-status/?format=csv&" + today())
    .then((response) => response.blob())
    .then((blob) => {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "time-in-status-" + new Date().toISOString().slice(0, 10) + ".csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    })
    .catch((error) => {
      $("report-error").textContent = error.message;
    });
}

// ---- overrun alerts ---------------------------------------------------------

function onOverrun(event) {
  if (!active) return;
  const data = event.detail;
  const item = document.createElement("li");
  item.className = "alert";
  item.dataset.agentId = data.agent_id;
  const since = new Date(data.since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const text = document.createElement("span");
  text.textContent = data.name + ": " + PresenceConsole.LABELS[data.status] + " (" +
    PresenceConsole.codeLabel(data.reason_code) + ") since " + since + ", over " + data.max_minutes + " min";
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "secondary";
  dismiss.textContent = "Dismiss";
  dismiss.setAttribute("aria-label", "Dismiss the alert about " + data.name);
  dismiss.addEventListener("click", () => {
    item.remove();
    renderAlertsHint();
  });
  item.append(text, dismiss);
  $("alerts").prepend(item);
  renderAlertsHint();
}

function renderAlertsHint() {
  $("alerts-empty").hidden = $("alerts").children.length > 0;
}

// ---- start ------------------------------------------------------------------

$("filter-status").addEventListener("change", applyFilter);
$("filter-available").addEventListener("change", applyFilter);
$("team-picker").addEventListener("change", pickTeam);
$("roster-filter").addEventListener("submit", (event) => event.preventDefault());
$("force-form").addEventListener("submit", forceStatus);
$("force-status").addEventListener("change", () =>
  PresenceConsole.fillReasons($("force-reason"), $("force-status").value));
$("report-refresh").addEventListener("click", loadReport);
$("report-csv").addEventListener("click", downloadCsv);
document.addEventListener("presence:started", start);
document.addEventListener("presence:stopped", stop);
document.addEventListener("presence:roster", onRoster);
document.addEventListener("presence:counts", onCounts);
document.addEventListener("presence:overrun", onOverrun);
document.addEventListener("presence:codes", () =>
  active && PresenceConsole.fillReasons($("force-reason"), $("force-status").value));
