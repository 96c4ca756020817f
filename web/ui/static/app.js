// Watchdog console: incident actions through the token-protected JSON API,
// and the status page's live refresh. Plain JavaScript, no dependencies.
// The token lives in sessionStorage: typed once per browser session, sent
// only as an Authorization header to this origin.
(function () {
  "use strict";
  var TOKEN = "watchdog.token", BY = "watchdog.by";
  function $(id) { return document.getElementById(id); }
  function store() { try { return window.sessionStorage; } catch (e) { return null; } }
  function get(k) { var s = store(); return s ? s.getItem(k) || "" : ""; }
  function put(k, v) { var s = store(); if (s) { if (v) { s.setItem(k, v); } else { s.removeItem(k); } } }

  function showToken() {
    var st = $("token-state");
    if (!st) { return; }
    var set = get(TOKEN) !== "";
    st.textContent = set ? "token set for this session" : "no token";
    st.setAttribute("data-state", set ? "set" : "unset");
  }

  function result(msg, state) {
    var r = $("action-result");
    if (r) { r.textContent = msg; r.setAttribute("data-state", state); }
  }

  // responderBody turns "bob schedule:db policy:dba" into the request
  // of POST …/responders; null when it names nobody.
  function responderBody(body) {
    var words = ($("responder-targets").value || "").split(/[\s,]+/), n = 0;
    body.users = []; body.schedules = []; body.policies = [];
    for (var i = 0; i < words.length; i++) {
      var w = words[i], c = w.indexOf(":");
      if (!w) { continue; }
      n++;
      if (c < 0) { body.users.push(w); continue; }
      var kind = w.slice(0, c), name = w.slice(c + 1);
      if (kind === "user") { body.users.push(name); } else if (kind === "schedule") { body.schedules.push(name); } else if (kind === "policy") { body.policies.push(name); } else { return null; }
    }
    var m = $("responder-message").value.trim();
    if (m) { body.message = m; }
    return n > 0 ? body : null;
  }

  function act(action, button) {
    var inc = $("incident");
    if (!inc) { return; }
    var id = inc.getAttribute("data-id");
    var token = get(TOKEN);
    if (!token && $("token") && $("token").value) { token = $("token").value.trim(); put(TOKEN, token); showToken(); }
    if (!token) { result("Enter the API token first.", "error"); if ($("token")) { $("token").focus(); } return; }
    var body = {};
    var by = ($("by") && $("by").value.trim()) || "";
    if (by) { body.by = by; put(BY, by); }
    body.via = "console";
    if (action === "snooze") { body.duration = $("snooze-duration").value; }
    if (action === "responders" && !responderBody(body)) { result("Name users, schedule:NAME or policy:NAME.", "error"); return; }
    if (button && button.getAttribute("data-decline") === "true") { body.decline = true; }
    if (action === "note") {
      body.text = $("note-text").value;
      if (!body.text.trim()) { result("Write a note first.", "error"); return; }
    }
    result("Sending…", "busy");
    fetch("/api/v1/pager/incidents/" + encodeURIComponent(id) + "/" + action, {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (j) {
        if (resp.ok) { result("Done: " + action + ".", "ok"); window.location.reload(); return; }
        if (resp.status === 401) { put(TOKEN, ""); showToken(); }
        result("Refused (" + resp.status + "): " + (j.error || resp.statusText), "error");
      });
    }).catch(function (e) { result("Request failed: " + e, "error"); });
  }

  function initActions() {
    var save = $("token-save"), clear = $("token-clear"), tok = $("token");
    if (save && tok) {
      save.addEventListener("click", function () { put(TOKEN, tok.value.trim()); tok.value = ""; showToken(); });
      tok.addEventListener("keydown", function (e) { if (e.key === "Enter") { save.click(); } });
    }
    if (clear) { clear.addEventListener("click", function () { put(TOKEN, ""); showToken(); }); }
    if ($("by")) { $("by").value = get(BY); }
    var buttons = document.querySelectorAll("button[data-action]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) { act(e.currentTarget.getAttribute("data-action"), e.currentTarget); });
    }
    showToken();
  }

  // Pages with data-poll reload as soon as the JSON's digest changes (the
  // status page turns green the moment the incident resolves).
  function initPoll() {
    var url = document.body.getAttribute("data-poll");
    if (!url) { return; }
    var digest = document.body.getAttribute("data-digest");
    window.setInterval(function () {
      fetch(url, { cache: "no-store", credentials: "omit" }).then(function (r) { return r.json(); })
        .then(function (j) { if (j.digest && j.digest !== digest) { window.location.reload(); } })
        .catch(function () {});
    }, 5000);
  }

  // Postmortem editor: Preview posts the section's Markdown to the
  // server, which answers sanitised HTML.
  function initPreview() {
    var buttons = document.querySelectorAll("button.pm-preview");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) {
        var form = e.currentTarget.form, out = form.querySelector(".pm-preview-out");
        var body = new URLSearchParams(new FormData(form));
        body.set("action", "preview");
        fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (j) { out.innerHTML = j.html || ""; out.setAttribute("data-ready", "1"); })
          .catch(function (err) { out.textContent = "preview failed: " + err; });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () { initActions(); initPoll(); initPreview(); });
})();
