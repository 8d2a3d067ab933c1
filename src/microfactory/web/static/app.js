// microfactory dashboard behaviour: CSRF header on every htmx request, plotly figures from
// data attributes (no inline scripts: the Content-Security-Policy forbids them).
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (ev) {
    ev.detail.headers["X-CSRF-Token"] = csrf();
  });
  function drawCharts(root) {
    if (typeof Plotly === "undefined") { return; }
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var fig = JSON.parse(el.getAttribute("data-figure"));
      var layout = Object.assign({ margin: { t: 20, r: 10, b: 40, l: 50 }, autosize: true }, fig.layout || {});
      Plotly.newPlot(el, fig.data || [], layout, { responsive: true, displaylogo: false });
      el.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { drawCharts(ev.target); });
})();
