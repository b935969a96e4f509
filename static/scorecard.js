// Scorecard page, progressive enhancement: the form posts and saves drafts without this file.
// With it: the error summary takes focus, a changed form is saved as a draft a few seconds after
// the last change, and leaving with changes not yet saved asks first.
"use strict";

const AUTOSAVE_DELAY_MS = 3000;

function focusErrorSummary() {
  const summary = document.getElementById("error-summary");
  if (summary && document.activeElement !== summary) summary.focus();
}

function localClock(iso) {
  const when = new Date(iso);
  if (isNaN(when)) return "";
  return new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }).format(when);
}

function watchScorecard() {
  const form = document.querySelector("form[data-warn-unsaved]");
  if (!form) return;
  const status = form.querySelector(".draft-status");
  const url = form.dataset.autosaveUrl;
  let dirty = false;
  let submitting = false;
  let timer = null;
  let inFlight = false;

  const save = async () => {
    timer = null;
    if (!dirty || submitting) return;
    dirty = false;
    inFlight = true;
    if (status) status.textContent = "Saving draft…";
    try {
      const response = await fetch(url, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok && body.saved) {
        if (status) status.textContent = `Draft saved ${localClock(body.saved_at)}`;
        return;
      }
      dirty = true;
      if (status) status.textContent = `Draft not saved: ${(body.errors || ["the server refused it"]).join(" ")}`;
    } catch (error) {
      dirty = true;
      if (status) status.textContent = "Draft not saved: no connection. It will be tried again.";
      schedule();
    } finally {
      inFlight = false;
    }
  };
  const schedule = () => {
    if (!url) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, AUTOSAVE_DELAY_MS);
  };
  const changed = () => { dirty = true; schedule(); };

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", () => { submitting = true; if (timer) clearTimeout(timer); });
  window.addEventListener("beforeunload", (event) => {
    if ((dirty || inFlight) && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  if (status && status.querySelector("time")) {
    const time = status.querySelector("time");
    time.textContent = localClock(time.getAttribute("datetime"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  focusErrorSummary();
  watchScorecard();
});
