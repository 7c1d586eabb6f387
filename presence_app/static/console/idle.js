// Auto-away: after IDLE_AWAY_SECONDS without input (hidden tab or not), tell the server the agent is
// idle (`activity {idle: true}`); on the next input, that it is active again. The server decides what
// that means: only an online agent goes away, and only an away set by idleness comes back.
import { PresenceConsole } from "./console.js";

const INPUT = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll"];
const idle = { seconds: 300, lastInput: 0, reported: false, timer: null, running: false };

function start() {
  PresenceConsole.api("GET", "settings/")
    .then((settings) => {
      idle.seconds = settings.idle_away_seconds;
    })
    .catch((error) => console.warn("settings:", error.message))
    .finally(() => {
      idle.running = true;
      idle.lastInput = Date.now();
      idle.reported = false;
      arm();
    });
}

function stop() {
  idle.running = false;
  clearTimeout(idle.timer);
}

// One timer for the remaining quiet time; inputs only note the time, so they cost nothing.
function arm() {
  clearTimeout(idle.timer);
  if (!idle.running || idle.reported) return;
  const left = idle.lastInput + idle.seconds * 1000 - Date.now();
  if (left > 0) {
    idle.timer = setTimeout(arm, left);
    return;
  }
  idle.reported = true;
  report(true);
}

function onInput() {
  if (!idle.running) return;
  idle.lastInput = Date.now();
  if (idle.reported) {
    idle.reported = false;
    report(false);
    arm();
  }
}

function report(isIdle) {
  PresenceConsole.client().activity(isIdle).catch((error) => {
    console.warn("activity:", error.message);
    if (isIdle) idle.reported = false; // not heard: try again at the next check
    if (isIdle) idle.timer = setTimeout(arm, 5000);
  });
}

INPUT.forEach((name) => window.addEventListener(name, onInput, { capture: true, passive: true }));
// A tab coming back is checked at once (hidden tabs' timers may run late).
document.addEventListener("visibilitychange", () => idle.running && arm());
document.addEventListener("presence:started", start);
document.addEventListener("presence:stopped", stop);
