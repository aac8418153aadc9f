// tokenflow's page script: refresh-on-401 for fetch calls, the dashboard's
// "call the API" button, countdowns, and logout broadcast between tabs.
// Plain JavaScript, no build step. The tokens themselves live in HttpOnly
// cookies, so nothing here can (or needs to) read them.
(function () {
  "use strict";

  var channel = "BroadcastChannel" in window ? new BroadcastChannel("tokenflow-auth") : null;
  var inflight = null; // one refresh in flight per page

  // doRefresh posts to /auth/refresh; the browser sends the refresh cookie
  // (Path=/auth) and stores the new pair from Set-Cookie.
  function doRefresh() {
    return fetch("/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.ok;
    }, function () {
      return false;
    });
  }

  // refresh resolves to true when the session was refreshed. Across tabs the
  // Web Locks API lets one tab refresh at a time; the server's reuse grace
  // window covers browsers without it.
  function refresh() {
    if (inflight) return inflight;
    var run = navigator.locks && navigator.locks.request
      ? navigator.locks.request("tokenflow-refresh", doRefresh)
      : doRefresh();
    inflight = Promise.resolve(run).finally(function () { inflight = null; });
    return inflight;
  }

  function loginURL() {
    return "/auth/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // fetchWithRefresh calls url; on a 401 that says the token is invalid or
  // expired it refreshes once and retries once. The result tells the caller
  // whether a refresh happened, for the API log.
  function fetchWithRefresh(url, options) {
    var opts = Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, options || {});
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
      logLine(log, "request", "GET /api/me  (cookie " + "sent automatically by the browser)");
      button.disabled = true;
      fetchWithRefresh("/api/me").then(function (result) {
        if (result.refreshed) {
          logLine(log, "refresh", "401 invalid_token -> POST /auth/refresh -> 200, retried once");
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

  function wireCountdowns() {
    var nodes = document.querySelectorAll("[data-countdown]");
    if (!nodes.length) return;
    function tick() {
      var now = Date.now();
      nodes.forEach(function (node) {
        var left = Math.round((Date.parse(node.getAttribute("data-countdown")) - now) / 1000);
        if (left <= 0) { node.textContent = "(expired)"; return; }
        var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
        node.textContent = "(in " + (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s)";
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  function wireLogoutBroadcast() {
    if (!channel) return;
    document.querySelectorAll("form[data-logout]").forEach(function (form) {
      form.addEventListener("submit", function () {
        channel.postMessage({ type: "logout" });
      });
    });
    channel.addEventListener("message", function (event) {
      if (event.data && event.data.type === "logout" && location.pathname.indexOf("/auth/") !== 0) {
        location.assign("/auth/login");
      }
    });
  }

  window.tokenflow = { refresh: refresh, fetchWithRefresh: fetchWithRefresh };

  wireAPIButton();
  wireCountdowns();
  wireLogoutBroadcast();
})();
