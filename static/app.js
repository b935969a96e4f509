// Progressive enhancement only: every page works without this file.
"use strict";

function showLocalTimes() {
  const format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  for (const el of document.querySelectorAll("time.local-time")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = el.textContent;
      el.textContent = format.format(when);
    }
  }
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".countdown[data-due]")) {
    const left = Math.floor((new Date(el.dataset.due) - now) / 1000);
    if (left <= 0) { el.textContent = el.dataset.ended || "deadline passed"; continue; }
    const d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600), m = Math.floor((left % 3600) / 60);
    el.textContent = `${d} days ${h} h ${m} min left`;
  }
}

function fillTimeZones() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const input of document.querySelectorAll("input[name=timezone]")) {
    if (zone && (!input.value || input.value === "UTC")) input.value = zone;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showLocalTimes();
  fillTimeZones();
  tickCountdowns();
  setInterval(tickCountdowns, 30000);
});

// Live grading status on the candidate page: poll while anything is queued or being checked,
// every 2 s while a version is being checked or a state has just changed; while versions only wait
// in the queue, less and less often (up to every 10 s), so that on deadline night hundreds of
// waiting pages do not ask every 2 s.
const POLL_FAST_MS = 2000;
const POLL_SLOW_MS = 10000;
const STATE_TEXT = {
  queued: "received, waiting to be checked",
  running: "being checked",
  done: "received and checked",
  failed: "received; the automatic check could not run and staff will review your notebook",
};

function pollGradingStatus() {
  const table = document.querySelector("[data-status-url]");
  if (!table) return;
  let delay = POLL_FAST_MS;
  let seen = "";
  const poll = async () => {
    let pending = false;
    let running = false;
    let states = seen;
    try {
      const response = await fetch(table.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const rows = await response.json();
      for (const row of rows) {
        const el = table.querySelector(`.grading-state[data-version="${row.version}"]`);
        if (el) el.textContent = row.text || STATE_TEXT[row.state] || row.state;
        if (row.state === "queued" || row.state === "running") pending = true;
        if (row.state === "running") running = true;
      }
      states = rows.map((row) => `${row.version}:${row.state}`).join(",");
    } catch (error) {
      pending = true;
    }
    delay = running || states !== seen ? POLL_FAST_MS : Math.min(delay * 1.5, POLL_SLOW_MS);
    seen = states;
    if (pending) setTimeout(poll, delay);
  };
  poll();
}

document.addEventListener("DOMContentLoaded", pollGradingStatus);

// Staff submission page: reload once grading finishes.
function watchStaffGrading() {
  const el = document.querySelector(".grading-live[data-status-url]");
  if (!el || !["queued", "running"].includes(el.dataset.state)) return;
  const poll = async () => {
    try {
      const response = await fetch(el.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const body = await response.json();
        el.querySelector(".grading-state-staff").textContent = body.state;
        if (body.state === "done" || body.state === "failed") { window.location.reload(); return; }
      }
    } catch (error) { /* try again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

document.addEventListener("DOMContentLoaded", watchStaffGrading);
