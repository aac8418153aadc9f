// tokenflow's page script: refresh-on-401 for fetch calls, the dashboard's
// "call the API" button, countdowns, and logout broadcast between tabs.
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
    inflight = Promise.resolve(run).finally(function () { inflight = null; });
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

  function wireCountdowns() {
    var nodes = document.querySelectorAll("[data-countdown]");
    if (!nodes.length) return;
    function tick() {
      var now = Date.now();
      nodes.forEach(function (node) {
        var at = Date.parse(node.getAttribute("data-countdown"));
        if (isNaN(at)) return;
        var left = Math.round((at - now) / 1000);
        if (left <= 0) { node.textContent = "(expired)"; return; }
        var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
        node.textContent = "(in " + (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s)";
      });
    }
    tick();
    setInterval(tick, 1000);
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
    RefreshError: RefreshError,
    refreshMarker: refreshMarker
  };

  clearRefreshMarker();
  wireAPIButton();
  wireCountdowns();
  wireLogoutBroadcast();
})();
