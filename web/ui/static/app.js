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

  function act(action) {
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
      buttons[i].addEventListener("click", function (e) { act(e.currentTarget.getAttribute("data-action")); });
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

  document.addEventListener("DOMContentLoaded", function () { initActions(); initPoll(); });
})();
