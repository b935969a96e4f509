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
    if (left <= 0) { el.textContent = "deadline passed"; continue; }
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
