// The page's only timer: token countdowns. It runs only while a countdown
// is shown and the window is visible, and wakes only when a countdown's text
// is due to change (once a second in a token's last five minutes, once a
// minute before), writing only the texts that changed. The broker refreshes
// a token five minutes before it expires, so while it serves, an open
// dashboard wakes once a minute. Hidden or minimised, the page does no work
// at all until it is shown again.

import { setText } from "./dom.js";

// Seconds are shown only below this.
const SECONDS_BELOW_MS = 5 * 60000;

// "1 h 05 min", "42 min", "4 min 05 s", "59 s", "expired".
export function remaining(ms) {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (ms >= SECONDS_BELOW_MS) return `${m} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}

// Milliseconds until remaining(ms) shows something else (Infinity once expired).
export function untilChange(ms) {
  if (ms <= 0) return Infinity;
  return (ms >= SECONDS_BELOW_MS ? ms % 60000 : ms % 1000) + 1;
}

// A little after the change is due, so the text has changed when we look.
const SLACK_MS = 20;

let shown = []; // [{ node, expires }]: the countdowns on the page
let now = () => Date.now();
let alsoOnTick = () => {};
let timer = null;

// Every countdown is read at the same whole second of the app's clock, so
// all of them change together: one wake a second at most, not one per token.
function tick() {
  timer = null;
  const t = Math.floor(now() / 1000) * 1000;
  let next = Infinity;
  for (const { node, expires } of shown) {
    const left = expires - t;
    setText(node, remaining(left));
    next = Math.min(next, Math.ceil(untilChange(left) / 1000) * 1000);
  }
  alsoOnTick();
  if (next !== Infinity && !document.hidden) timer = setTimeout(tick, t + next - now() + SLACK_MS);
}

function stop() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

// Shows these countdowns (`{ node, expires }`, expires in ms) against the
// clock `clock()`; `onTick` also runs on each tick (texts like "5 min ago").
// Replaces what was shown before.
export function showCountdowns(list, clock, onTick) {
  shown = list;
  now = clock;
  alsoOnTick = onTick;
  stop();
  tick();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) stop();
  else if (timer === null) tick();
});
