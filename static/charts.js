// Draws each calibration chart from the figure JSON embedded in the page (no inline script).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (typeof Plotly === "undefined") return;
  for (const holder of document.querySelectorAll(".chart[data-figure]")) {
    const source = document.getElementById(`figure-${holder.dataset.figure}`);
    if (!source) continue;
    const figure = JSON.parse(source.textContent);
    Plotly.newPlot(holder, figure.data, figure.layout, { responsive: true, displaylogo: false });
  }
});
