// ui/countdown.js under Node's test runner, with a stand-in document and
// timers: which texts it shows, when it asks to wake, and that it asks for
// nothing when no countdown is shown or the page is hidden.
import { test } from "node:test";
import assert from "node:assert/strict";

let onVisibility = null;
globalThis.document = {
  hidden: false,
  addEventListener(type, f) {
    if (type === "visibilitychange") onVisibility = f;
  },
};
const timers = []; // [{ f, at }] pending
let clock = 0;
globalThis.setTimeout = (f, delay) => {
  timers.push({ f, at: clock + delay });
  return timers.length;
};
globalThis.clearTimeout = (id) => {
  if (timers[id - 1]) timers[id - 1].f = null;
};
const pending = () => timers.filter((t) => t.f);
// Runs the clock to `until`, firing due timers; returns how many fired.
function runUntil(until) {
  let fired = 0;
  for (;;) {
    const due = pending().sort((a, b) => a.at - b.at)[0];
    if (!due || due.at > until) break;
    clock = due.at;
    const f = due.f;
    due.f = null;
    fired += 1;
    f();
  }
  clock = until;
  return fired;
}

const { remaining, untilChange, showCountdowns } = await import("../../../ui/countdown.js");
const MIN = 60000;

test("texts: hours and minutes, minutes, then seconds in the last five minutes", () => {
  assert.equal(remaining(2 * 3600000 + 5 * MIN + 30000), "2 h 05 min");
  assert.equal(remaining(42 * MIN + 59000), "42 min");
  assert.equal(remaining(5 * MIN), "5 min");
  assert.equal(remaining(5 * MIN - 1), "4 min 59 s");
  assert.equal(remaining(4 * MIN + 5000), "4 min 05 s");
  assert.equal(remaining(59999), "59 s");
  assert.equal(remaining(0), "expired");
});

test("untilChange is exactly when the text changes", () => {
  // (In the last second the change to "expired" comes at 0, a millisecond early.)
  for (let ms = 1000; ms < 2 * 3600000; ms += 997) {
    const wait = untilChange(ms);
    assert.notEqual(remaining(ms - wait), remaining(ms), `at ${ms}`);
    assert.equal(remaining(ms - wait + 1), remaining(ms), `at ${ms}`);
  }
  assert.equal(untilChange(0), Infinity);
});

test("three tokens with most of an hour left wake the page once a minute, writing only changed texts", () => {
  const nodes = [40, 50, 58].map(() => ({ textContent: "" }));
  let writes = 0;
  for (const node of nodes) {
    let text = "";
    Object.defineProperty(node, "textContent", { get: () => text, set: (v) => { text = v; writes += 1; } });
  }
  clock = 0;
  const list = nodes.map((node, i) => ({ node, expires: [40, 50, 58][i] * MIN + 30000 }));
  showCountdowns(list, () => clock, () => {});
  assert.deepEqual(nodes.map((n) => n.textContent), ["40 min", "50 min", "58 min"]);
  writes = 0;
  const wakes = runUntil(30 * MIN);
  assert.ok(wakes <= 31, `${wakes} wakes in 30 minutes`);
  assert.equal(writes, 3 * 30, "each text once a minute");
  assert.equal(pending().length, 1, "one timer for all countdowns");
});

test("nothing is scheduled without a countdown, or while hidden", () => {
  showCountdowns([], () => clock, () => {});
  assert.equal(pending().length, 0, "no countdown, no timer");
  const node = { textContent: "" };
  showCountdowns([{ node, expires: clock + 3 * MIN }], () => clock, () => {});
  assert.equal(pending().length, 1);
  document.hidden = true;
  onVisibility();
  assert.equal(pending().length, 0, "hidden: the timer is gone");
  assert.equal(runUntil(clock + 10 * MIN), 0, "and nothing runs");
  document.hidden = false;
  onVisibility();
  assert.equal(node.textContent, "expired", "shown again: up to date at once");
});
