// Draws every chart a dashboard page embeds: <div class="chart" data-figure="ID">, its Plotly figure as JSON
// in <script type="application/json" id="ID">. Loaded from the server (no inline script), so a page can run
// under a Content-Security-Policy of script-src 'self'.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("div.chart[data-figure]").forEach(function (element) {
      var source = document.getElementById(element.getAttribute("data-figure"));
      if (!source || element.classList.contains("js-plotly-plot")) return;
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
