// Draws each calibration chart from the figure JSON embedded in the page (no inline script).
"use strict";

// An SVG title does not wrap: on a narrow screen it is broken into lines that fit the chart's width.
function fitTitle(layout, width) {
  const title = layout && layout.title;
  const text = typeof title === "string" ? title : title && title.text;
  if (!text || text.includes("<br>")) return;
  const perLine = Math.max(16, Math.floor(width / 9));
  if (text.length <= perLine) return;
  const lines = [""];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (lines[last] && (lines[last] + " " + word).length > perLine) lines.push(word);
    else lines[last] = lines[last] ? `${lines[last]} ${word}` : word;
  }
  const wrapped = lines.join("<br>");
  if (typeof title === "string") layout.title = { text: wrapped };
  else title.text = wrapped;
  layout.margin = Object.assign({}, layout.margin, { t: Math.max((layout.margin && layout.margin.t) || 0, 30 + 18 * lines.length) });
}

document.addEventListener("DOMContentLoaded", () => {
  if (typeof Plotly === "undefined") return;
  for (const holder of document.querySelectorAll(".chart[data-figure]")) {
    const source = document.getElementById(`figure-${holder.dataset.figure}`);
    if (!source) continue;
    const figure = JSON.parse(source.textContent);
    const title = figure.layout && figure.layout.title;
    holder.dataset.title = (typeof title === "string" ? title : title && title.text) || "";
    fitTitle(figure.layout, holder.clientWidth);
    Plotly.newPlot(holder, figure.data, figure.layout, { responsive: true, displaylogo: false });
  }
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const holder of document.querySelectorAll(".chart[data-title]")) {
        if (!holder.dataset.title || !holder.layout) continue;
        const layout = { title: { ...holder.layout.title, text: holder.dataset.title }, margin: holder.layout.margin };
        fitTitle(layout, holder.clientWidth);
        Plotly.relayout(holder, { "title.text": layout.title.text, "margin.t": layout.margin.t });
      }
    }, 100);
  });
});
