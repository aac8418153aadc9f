// tokenflow's page script: refresh-on-401 for fetch calls, the dashboard's
// "call the API" button and its update in place after a refresh, the notes
// panel, countdowns, and logout broadcast between tabs.
// Plain JavaScript, no build step. The tokens themselves live in HttpOnly
// cookies, so nothing here can (or needs to) read them.
(function () {
  "use strict";

  var channel = "BroadcastChannel" in window ? new BroadcastChannel("tokenflow-auth") : null;
  var inflight = null; // one refresh in flight per page

  // refreshMarker is the sessionStorage key interstitial.js writes after a
  // successful refresh, so it can tell a loop (the page refused the new
  // token too) from a first visit. Any page that loads fine clears it.
  var refreshMarker = "tokenflow-interstitial-refreshed";

  // RefreshError: the refresh did not happen, but the session may well
  // still be valid (network down, 403, 429, 5xx). Status 0: no answer.
  function RefreshError(status) {
    this.name = "RefreshError";
    this.status = status;
    this.message = status ? "status " + status : "network error";
  }
  RefreshError.prototype = Object.create(Error.prototype);
  RefreshError.prototype.constructor = RefreshError;

  // doRefresh posts to /auth/refresh; the browser sends the refresh cookie
  // (Path=/auth) and stores the new pair from Set-Cookie. It resolves to
  // true when refreshed, to false when the server says the session is over
  // (401), and rejects with a RefreshError for anything else.
  function doRefresh() {
    return fetch("/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      if (res.ok) return true;
      if (res.status === 401) return false;
      throw new RefreshError(res.status);
    }, function () {
      throw new RefreshError(0);
    });
  }

  // refresh is doRefresh, once at a time: true refreshed, false session
  // over, rejected (RefreshError) when it could not be done now. Across
  // tabs the Web Locks API lets one tab refresh at a time; the server's
  // reuse grace window covers browsers without it.
  function refresh() {
    if (inflight) return inflight;
    var run = navigator.locks && navigator.locks.request
      ? navigator.locks.request("tokenflow-refresh", doRefresh)
      : doRefresh();
    inflight = Promise.resolve(run).then(function (ok) {
      // The page may show the old token (the dashboard): tell it.
      if (ok) document.dispatchEvent(new CustomEvent("tokenflow:refreshed"));
      return ok;
    }).finally(function () { inflight = null; });
    return inflight;
  }

  function loginURL() {
    return "/auth/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // fetchWithRefresh calls url; on a 401 that says the token is invalid or
  // expired it refreshes once and retries once. The result tells the caller
  // whether a refresh happened, for the API log. When the session is over
  // it goes to the login page (failed: true); when the refresh could not be
  // done now it stays, with refreshError set and the original response.
  function fetchWithRefresh(url, options) {
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(opts.headers || {});
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    opts.headers = headers;
    return fetch(url, opts).then(function (res) {
      var challenge = res.headers.get("WWW-Authenticate") || "";
      if (res.status !== 401 || challenge.indexOf("invalid_token") < 0) {
        return { response: res, refreshed: false };
      }
      return refresh().then(function (ok) {
        if (!ok) {
          location.assign(loginURL());
          return { response: res, refreshed: false, failed: true };
        }
        return fetch(url, opts).then(function (again) {
          return { response: again, refreshed: true };
        });
      }, function (err) {
        if (!(err instanceof RefreshError)) throw err;
        return { response: res, refreshed: false, refreshError: err };
      });
    });
  }

  function logLine(log, cls, text) {
    var pre = document.createElement("pre");
    pre.className = cls;
    pre.textContent = text;
    log.appendChild(pre);
  }

  function wireAPIButton() {
    var button = document.getElementById("call-api");
    var log = document.getElementById("api-log");
    if (!button || !log) return;
    button.addEventListener("click", function () {
      log.textContent = "";
      log.removeAttribute("data-status");
      log.removeAttribute("data-refreshed");
      log.removeAttribute("data-refresh-failed");
      logLine(log, "request", "GET /api/me  (cookie sent automatically by the browser)");
      button.disabled = true;
      fetchWithRefresh("/api/me").then(function (result) {
        if (result.refreshed) {
          logLine(log, "refresh", "401 invalid_token -> POST /auth/refresh -> 200, retried once");
        }
        if (result.refreshError) {
          logLine(log, "error", "401 invalid_token -> POST /auth/refresh failed (" +
            result.refreshError.message + "), try again");
          log.setAttribute("data-refresh-failed", String(result.refreshError.status));
        }
        return result.response.text().then(function (body) {
          var text = body;
          try { text = JSON.stringify(JSON.parse(body), null, 2); } catch (e) { /* not JSON */ }
          logLine(log, "response", result.response.status + "\n" + text);
          log.setAttribute("data-status", String(result.response.status));
          log.setAttribute("data-refreshed", String(result.refreshed));
        });
      }).catch(function (err) {
        logLine(log, "error", "request failed: " + err);
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  // remainingText says how long until an instant, ms from now: "in 7 days",
  // "in 2 hours 30 minutes", "in 4 minutes 10 seconds", "expired". The same
  // rule as the server's views.Remaining (views/remaining.go), held to the
  // same table (views/testdata/remaining.json): seconds round up; each unit
  // comes only with the next smaller one, to which the rest is rounded.
  function remainingText(ms) {
    var secs = Math.ceil(ms / 1000);
    if (!(secs > 0)) return "expired";
    function units(n, unit) { return n + " " + unit + (n === 1 ? "" : "s"); }
    function optional(n, unit) { return n ? " " + units(n, unit) : ""; }
    if (secs < 60) return "in " + units(secs, "second");
    if (secs < 3600) return "in " + units(Math.floor(secs / 60), "minute") + optional(secs % 60, "second");
    var mins = Math.floor((secs + 30) / 60);
    if (mins < 24 * 60) return "in " + units(Math.floor(mins / 60), "hour") + optional(mins % 60, "minute");
    var hours = Math.floor((secs + 1800) / 3600);
    return "in " + units(Math.floor(hours / 24), "day") + optional(hours % 24, "hour");
  }

  // tickCountdowns writes every countdown's text from its data-countdown
  // instant, which the dashboard's update in place may have moved.
  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (node) {
      var at = Date.parse(node.getAttribute("data-countdown"));
      if (isNaN(at) || at <= 0) return; // unknown instant: left empty
      node.textContent = "(" + remainingText(at - now) + ")";
    });
  }

  function wireCountdowns() {
    if (!document.querySelector("[data-countdown]")) return;
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }

  // The dashboard in place. After a refresh in the page (the API button, or
  // any caller of tokenflow.refresh) the cookie holds a new access token,
  // which scripts cannot read: GET /api/session describes it, and the
  // countdowns, the inspector and the timeline follow without a reload.
  // The development "Expire my access token now" form is sent the same way,
  // so the page shows the expired token and the next API call refreshes it;
  // without script (or if that fails) the form posts as usual.
  function wireDashboard() {
    var dashboard = document.getElementById("dashboard");
    if (!dashboard) return;
    var updates = 0;

    function setText(sel, text) {
      var node = document.querySelector(sel);
      if (node) node.textContent = text;
    }

    function setInstant(timeSel, countdownSel, instant) {
      var time = document.querySelector(timeSel);
      if (time) {
        time.setAttribute("datetime", instant.at);
        time.textContent = instant.text;
      }
      var countdown = document.querySelector(countdownSel);
      if (countdown) countdown.setAttribute("data-countdown", instant.at);
    }

    function el(tag, attrs, text) {
      var node = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function showClaims(claims) {
      var body = document.querySelector('[data-testid="claims"]');
      if (!body) return;
      body.replaceChildren.apply(body, claims.map(function (c) {
        var tr = el("tr", { "data-claim": c.name });
        var th = el("th", { scope: "row" });
        th.appendChild(el("code", {}, c.name));
        var value = el("td");
        value.appendChild(el("code", { "data-testid": "claim-value" }, c.value));
        tr.append(th, value, el("td", {}, c.meaning));
        return tr;
      }));
    }

    function showEvents(events) {
      var list = document.querySelector('[data-testid="timeline"]');
      if (!list) return;
      list.replaceChildren.apply(list, events.map(function (e) {
        var li = el("li", { "class": "event event-" + e.kind });
        li.append(el("time", { datetime: e.at }, e.at_text), el("strong", {}, e.label),
          el("span", { "class": "muted" }, e.ip + " · " + e.device));
        return li;
      }));
      var empty = document.querySelector('[data-testid="timeline-empty"]');
      if (empty) empty.hidden = events.length > 0;
    }

    // showState writes GET /api/session's answer into the page. Every
    // value goes in as text, never as markup.
    function showState(state) {
      setInstant('[data-testid="access-expires"]', '[data-testid="access-countdown"]', state.access_expires);
      setInstant('[data-testid="session-expires"]', '[data-testid="session-countdown"]', state.session_expires);
      setText('[data-testid="session-id"]', state.session_id);
      var t = state.token;
      setText('[data-testid="jwt"] .jwt-header', t.header);
      setText('[data-testid="jwt"] .jwt-payload', t.payload);
      setText('[data-testid="jwt"] .jwt-signature', t.signature_preview);
      setText('[data-testid="jwt-header"]', t.header_json);
      setText('[data-testid="jwt-payload"]', t.payload_json);
      // A key rotation shows here: the new token names the new kid.
      setText('[data-testid="key-kid"]', t.kid);
      setText('[data-testid="key-alg"]', t.alg);
      showClaims(t.claims || []);
      showEvents(state.events || []);
      tickCountdowns();
      dashboard.setAttribute("data-updates", String(++updates));
    }

    // A failed update leaves the page as it was: the next refresh or a
    // reload tries again.
    function update() {
      fetch("/api/session", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { return res.ok ? res.json().then(showState) : null; })
        .catch(function () { /* offline: keep what is shown */ });
    }
    document.addEventListener("tokenflow:refreshed", update);

    var expire = document.getElementById("expire-access");
    if (expire) {
      expire.addEventListener("submit", function (event) {
        event.preventDefault();
        fetch(expire.action, { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (res) {
            if (!res.ok) throw new Error("status " + res.status);
            return res.json().then(showState);
          })
          .catch(function () { expire.submit(); }); // the plain form post
      });
    }
  }

  // The notes panel: list, add and delete the caller's notes at
  // /api/notes, each call through fetchWithRefresh, so an expired token
  // gets one refresh at the auth server and one retry. Served by the auth
  // server alone, /api/notes is 404 (the notes service is behind the
  // gateway), and the panel says how to run it. Notes go into the page as
  // text only.
  function wireNotes() {
    var panel = document.getElementById("notes");
    var form = document.getElementById("note-form");
    if (!panel || !form) return;
    var status = panel.querySelector('[data-testid="notes-status"]');
    var list = panel.querySelector('[data-testid="notes-list"]');
    var input = document.getElementById("note-text");
    var error = document.getElementById("note-error");
    var button = form.querySelector('button[type="submit"]');

    function say(state, text) {
      panel.setAttribute("data-state", state);
      status.textContent = text;
    }

    function showError(text) {
      error.textContent = text;
      error.hidden = !text;
    }

    function count() {
      var n = list.children.length;
      say("ready", n === 0 ? "No notes yet: add one." : n + (n === 1 ? " note." : " notes."));
    }

    // problem is what to tell the user about an answer that is not the
    // one asked for: the service's own message when it sent one.
    function problem(result) {
      if (result.refreshError) {
        return Promise.resolve("Your session could not be refreshed just now (" + result.refreshError.message + "); try again.");
      }
      var res = result.response;
      return res.json().then(function (body) {
        return body && typeof body.message === "string" ? body.message : "The notes service answered " + res.status + ".";
      }, function () {
        return "The notes service answered " + res.status + ".";
      });
    }

    function noteItem(note) {
      var li = document.createElement("li");
      li.setAttribute("data-note-id", note.id);
      var text = document.createElement("span");
      text.className = "note-text";
      text.setAttribute("data-testid", "note-text");
      text.textContent = note.text;
      var del = document.createElement("button");
      del.type = "button";
      del.className = "secondary";
      del.setAttribute("data-testid", "delete-note");
      del.setAttribute("aria-label", "Delete note: " + note.text.slice(0, 40));
      del.textContent = "Delete";
      del.addEventListener("click", function () { remove(li, note.id, del); });
      li.append(text, del);
      return li;
    }

    function load() {
      say("loading", "Loading your notes…");
      fetchWithRefresh("/api/notes").then(function (result) {
        if (result.failed) return null; // on the way to the login page
        var res = result.response;
        if (res.status === 404) {
          form.hidden = true;
          say("absent", "The notes service runs behind the gateway, and this page came from the auth server alone. " +
            "Start all three with `go run . stack` and open the address it prints.");
          return null;
        }
        if (res.status !== 200) {
          return problem(result).then(function (msg) { say("error", msg); });
        }
        return res.json().then(function (notes) {
          list.replaceChildren.apply(list, notes.map(noteItem));
          form.hidden = false;
          count();
        });
      }).catch(function () {
        say("error", "The notes could not be loaded (network error).");
      });
    }

    function remove(li, id, del) {
      del.disabled = true;
      showError("");
      fetchWithRefresh("/api/notes/" + encodeURIComponent(id), { method: "DELETE" }).then(function (result) {
        if (result.failed) return null;
        var code = result.response.status;
        if (code === 204 || code === 404) { // 404: gone already
          li.remove();
          count();
          return null;
        }
        return problem(result).then(showError);
      }).catch(function () {
        showError("The note could not be deleted (network error).");
      }).finally(function () { del.disabled = false; });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      showError("");
      button.disabled = true;
      fetchWithRefresh("/api/notes", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: input.value })
      }).then(function (result) {
        if (result.failed) return null;
        if (result.response.status !== 201) return problem(result).then(showError);
        return result.response.json().then(function (note) {
          list.appendChild(noteItem(note));
          input.value = "";
          count();
        });
      }).catch(function () {
        showError("The note could not be added (network error).");
      }).finally(function () { button.disabled = false; });
    });

    load();
  }

  // Logout broadcast. Only the login page that confirms a logout (the
  // server has revoked the session and cleared the cookies; the page marks
  // its notice with data-logged-out) tells the other tabs, so a logout that
  // failed (403, offline) sends nobody away, and every kind of logout (the
  // logout buttons, revoking this session on /sessions) is told. A tab
  // already on an /auth/ page stays where it is.
  function wireLogoutBroadcast() {
    if (!channel) return;
    if (document.querySelector("[data-logged-out]")) {
      channel.postMessage({ type: "logout" });
    }
    channel.addEventListener("message", function (event) {
      if (event.data && event.data.type === "logout" && location.pathname.indexOf("/auth/") !== 0) {
        location.assign(loginURL());
      }
    });
  }

  // clearRefreshMarker: this page loaded fine (it is not the interstitial),
  // so the next interstitial is a new one, not a loop.
  function clearRefreshMarker() {
    if (document.getElementById("interstitial")) return;
    try { sessionStorage.removeItem(refreshMarker); } catch (e) { /* storage off */ }
  }

  window.tokenflow = {
    refresh: refresh,
    fetchWithRefresh: fetchWithRefresh,
    remainingText: remainingText,
    RefreshError: RefreshError,
    refreshMarker: refreshMarker
  };

  clearRefreshMarker();
  wireAPIButton();
  wireCountdowns();
  wireDashboard();
  wireNotes();
  wireLogoutBroadcast();
})();
