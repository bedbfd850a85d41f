// The dashboard's only script: a run page follows the run's events
// (Server-Sent Events, authorised by the session cookie), and "copy"
// buttons copy the text they point at. Text goes in as text, never HTML.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const log = document.getElementById("log");
  if (log && log.dataset.run) {
    const source = new EventSource("/api/v1/runs/" + log.dataset.run + "/events");
    const add = (text, kind) => {
      const line = document.createElement("div");
      line.textContent = text;
      line.className = kind;
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
    };
    const show = (attribute, step, text) => {
      const cell = document.querySelector("[" + attribute + '="' + CSS.escape(step) + '"]');
      if (cell) cell.textContent = text;
    };
    const state = (step, word) => show("data-step", step, word);
    const data = (event) => JSON.parse(event.data).data;
    source.addEventListener("started", (e) => { const d = data(e); add(d.step + ": started", "event"); state(d.step, "running"); });
    source.addEventListener("retrying", (e) => { const d = data(e); add(d.step + ": try " + d.attempt + " failed: " + d.error, "event"); });
    source.addEventListener("line", (e) => { const d = data(e); add(d.step + "  " + d.text, "line"); });
    source.addEventListener("ended", (e) => { const d = data(e); add(d.step + ": " + d.state + ": " + d.summary, "event"); state(d.step, d.state); show("data-summary", d.step, d.summary); });
    source.addEventListener("finished", (e) => {
      const d = data(e);
      add("run " + d.outcome + ": " + d.summary, "event finished");
      const outcome = document.getElementById("outcome");
      if (outcome) { outcome.textContent = d.outcome; outcome.className = "badge " + d.outcome; }
      source.close();
    });
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => {
      const text = document.getElementById(button.dataset.copy);
      text.select();
      navigator.clipboard.writeText(text.value).then(() => { button.textContent = "copied"; });
    });
  }
});
