// Drag an operation's bar on the schedule's Gantt to another machine row or time: it is
// pinned there (POST /schedule/pin, CSRF header) and the plan is made again around it.
// Click a bar to select it; a pinned one can be unpinned from the panel below the chart.
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  var gd = document.getElementById("gantt");
  var panel = document.getElementById("pins");
  if (!gd || !panel) { return; }
  var message = document.getElementById("pin-message");
  var selected = document.getElementById("pin-selected");
  var pins = {};
  var hovered = null;
  var drag = null;

  function say(text, isError) {
    message.textContent = text;
    message.setAttribute("role", isError ? "alert" : "status");
    message.className = isError ? "error" : "muted";
  }

  function post(path, fields) {
    var form = new FormData();
    Object.keys(fields).forEach(function (k) { form.append(k, fields[k]); });
    say("Planning around it…", false);
    document.body.classList.add("busy");
    return fetch(path, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = {};
        try { data = JSON.parse(text); } catch (e) {
          var title = /<title>([^<]*)<\/title>/.exec(text);
          data = { detail: title ? title[1] : "HTTP " + r.status };
        }
        if (!r.ok) { throw new Error(data.detail || data.title || ("HTTP " + r.status)); }
        window.location.assign("/schedule?version=" + data.version);
      });
    }).catch(function (err) {
      document.body.classList.remove("busy");
      say(String(err.message || err), true);
    });
  }

  // the site's time zone, as the chart's time axis names it: "local time (Europe/Berlin)"
  function siteTime(iso) {
    var fig = JSON.parse(gd.getAttribute("data-figure") || "{}");
    var title = (((fig.layout || {}).xaxis || {}).title || {}).text || "";
    var m = /\(([^)]+)\)\s*$/.exec(title);
    var opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", hour12: false };
    if (m) { opts.timeZone = m[1]; }
    try {
      return new Date(iso).toLocaleString("sv-SE", opts) + (m ? " " + m[1] : "");
    } catch (e) { return iso; }
  }

  function pinTo(op, machine, startLocal) {
    post("/schedule/pin", { operation: op, machine: machine, start_local: startLocal });
  }

  function unpin(op) { post("/schedule/unpin", { operation: op }); }

  function select(op) {
    selected.textContent = "";
    var text = document.createElement("span");
    var pin = pins[op];
    text.textContent = op + (pin ? " is pinned to " + pin.machine +
      (pin.start ? " at " + pin.startLocal : "") + ". " : " selected: drag its bar to pin it. ");
    selected.appendChild(text);
    if (pin) {
      var button = document.createElement("button");
      button.type = "button";
      button.id = "unpin-selected";
      button.textContent = "Unpin " + op;
      button.addEventListener("click", function () { unpin(op); });
      selected.appendChild(button);
    }
  }

  function axes() {
    var fl = gd._fullLayout;
    return fl ? { x: fl.xaxis, y: fl.yaxis } : null;
  }

  function where(ev) {
    var a = axes();
    if (!a) { return null; }
    var box = gd.getBoundingClientRect();
    var px = ev.clientX - box.left - a.x._offset;
    var py = ev.clientY - box.top - a.y._offset;
    if (px < 0 || py < 0 || px > a.x._length || py > a.y._length) { return null; }
    var row = Math.round(a.y.p2c(py));
    return { ms: a.x.p2c(px), machine: a.y._categories[row] };
  }

  function local(ms) {
    var a = axes();
    return String(a.x.c2d(Math.round(ms / 60000) * 60000)).replace(" ", "T").slice(0, 16);
  }

  // the form: operations and machines from the chart, the same POST as a drop
  function wireForm() {
    var form = document.getElementById("pin-form");
    if (!form || !gd.data) { return; }
    var list = document.getElementById("pin-operations");
    var seen = {};
    gd.data.forEach(function (t) {
      t.text.forEach(function (op) {
        if (seen[op]) { return; }
        seen[op] = true;
        var o = document.createElement("option");
        o.value = op;
        list.appendChild(o);
      });
    });
    var select = document.getElementById("pin-machine");
    var rows = ((gd.layout || {}).yaxis || {}).categoryarray || [];
    rows.slice().reverse().forEach(function (m) {
      var o = document.createElement("option");
      o.value = m;
      o.textContent = m;
      select.appendChild(o);
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      pinTo(form.operation.value.trim(), select.value, form.start_local.value);
    });
  }

  function wire() {
    if (typeof gd.on !== "function") { window.setTimeout(wire, 100); return; }
    wireForm();
    gd.on("plotly_hover", function (ev) {
      var p = ev.points[0];
      var base = gd.data[p.curveNumber].base[p.pointNumber];
      hovered = { op: p.text, machine: p.y, startMs: axes().x.d2c(base) };
    });
    gd.on("plotly_unhover", function () { if (!drag) { hovered = null; } });
    gd.addEventListener("mousedown", function (ev) {
      if (!hovered || ev.button !== 0) { return; }
      var at = where(ev);
      if (!at) { return; }
      drag = { op: hovered.op, machine: hovered.machine, startMs: hovered.startMs,
        downMs: at.ms, x: ev.clientX, y: ev.clientY };
      gd.classList.add("dragging");
      ev.stopPropagation();
      ev.preventDefault();
    }, true);
    document.addEventListener("mouseup", function (ev) {
      if (!drag) { return; }
      var d = drag;
      drag = null;
      gd.classList.remove("dragging");
      if (Math.abs(ev.clientX - d.x) + Math.abs(ev.clientY - d.y) < 6) { select(d.op); return; }
      var at = where(ev);
      if (!at || !at.machine) { say("Dropped outside the chart: nothing pinned.", true); return; }
      pinTo(d.op, at.machine, local(d.startMs + at.ms - d.downMs));
    }, true);
  }

  fetch("/api/v1/plans/pins", { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : []; })
    .then(function (list) {
      var tbody = document.querySelector("#pin-table tbody");
      list.forEach(function (p) {
        p.startLocal = p.start ? siteTime(p.start) : "";
        pins[p.operation] = p;
        var tr = document.createElement("tr");
        tr.dataset.operation = p.operation;
        [p.operation, p.machine, p.startLocal || "any time", p.by].forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        });
        var td = document.createElement("td");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = "Unpin";
        b.addEventListener("click", function () { unpin(p.operation); });
        td.appendChild(b);
        tr.appendChild(td);
        tbody.appendChild(tr);
      });
      document.getElementById("pin-count").textContent = String(list.length);
      outlinePinned();
    });

  // pinned bars get a thick black outline (drawn once plotly has drawn the chart)
  function outlinePinned() {
    if (typeof Plotly === "undefined" || !gd.data) { window.setTimeout(outlinePinned, 100); return; }
    gd.data.forEach(function (trace, i) {
      var widths = trace.text.map(function (op) { return pins[op] ? 3 : 0.5; });
      var colours = trace.text.map(function (op) { return pins[op] ? "#000000" : "#ffffff"; });
      Plotly.restyle(gd, { "marker.line.width": [widths], "marker.line.color": [colours] }, [i]);
    });
    gd.dataset.pinsShown = "1";
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else { wire(); }
})();
