// Staff forms: a form marked data-busy shows a spinner and its text while the server works
// (quoting a large model, accepting and replanning), and cannot be sent twice.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.busy) { return; }
    if (form.dataset.sending) { ev.preventDefault(); return; }
    form.dataset.sending = "1";
    var busy = form.querySelector(".busy");
    if (busy) {
      var text = busy.querySelector(".busy-text");
      if (text) { text.textContent = form.dataset.busy; }
      busy.hidden = false;
    }
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.setAttribute("aria-disabled", "true");
    });
  });
})();
// New order: show only the typed fields of the product chosen on each line (without
// JavaScript every product's fields show; the server reads the chosen product's only).
(function () {
  "use strict";
  function sync(line) {
    var select = line.querySelector(".line-product");
    if (!select) { return; }
    line.querySelectorAll(".params").forEach(function (box) {
      box.hidden = box.dataset.product !== select.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".order-line").forEach(function (line) {
      sync(line);
      line.addEventListener("change", function () { sync(line); });
    });
  });
})();
