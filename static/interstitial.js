// The interstitial page: the access token expired, so trade the refresh
// token for a new pair and continue to the page that was asked for.
//   - refreshed: continue to the page (once: see the loop guard below);
//   - 401 from /auth/refresh: the session is over, go to the login page,
//     keeping the destination;
//   - anything else (offline, 403, 429, 5xx): the session may still be
//     valid, so stay and offer "Try again".
// Loop guard: if the page still answers with this interstitial right after
// a successful refresh (e.g. a stray cookie shadows the new one), refreshing
// again would only rotate the refresh token forever. sessionStorage remembers
// the refresh for this page for a few seconds; app.js clears the mark on any
// page that loads fine.
(function () {
  "use strict";
  var page = document.getElementById("interstitial");
  if (!page) return;
  var next = page.getAttribute("data-next") || "/dashboard";
  // Only local paths: "//host" or "/\host" would leave the site.
  if (next.charAt(0) !== "/" || next.charAt(1) === "/" || next.charAt(1) === "\\") next = "/dashboard";
  var status = document.getElementById("interstitial-status");
  var loginURL = "/auth/login?next=" + encodeURIComponent(next);
  var tf = window.tokenflow;
  var markerKey = (tf && tf.refreshMarker) || "tokenflow-interstitial-refreshed";
  var loopWindow = 10000; // ms

  function say(text, linkText, href) {
    if (!status) return;
    status.textContent = text;
    if (linkText) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = linkText;
      link.setAttribute("data-testid", "interstitial-action");
      status.appendChild(document.createTextNode(" "));
      status.appendChild(link);
    }
  }

  function readMarker() {
    try {
      var m = JSON.parse(sessionStorage.getItem(markerKey) || "null");
      return m && typeof m.at === "number" ? m : null;
    } catch (e) {
      return null;
    }
  }

  function writeMarker() {
    try {
      sessionStorage.setItem(markerKey, JSON.stringify({ next: next, at: Date.now() }));
    } catch (e) { /* storage off: no guard, as before */ }
  }

  function clearMarker() {
    try { sessionStorage.removeItem(markerKey); } catch (e) { /* storage off */ }
  }

  var mark = readMarker();
  if (mark && mark.next === next && Date.now() - mark.at >= 0 && Date.now() - mark.at < loopWindow) {
    clearMarker();
    page.setAttribute("data-state", "loop");
    say("Your session was just refreshed, but this page still refused it, so we stopped here instead of " +
      "refreshing again. An old cookie for this site can cause this. Logging in again usually fixes it.",
      "Log in again", loginURL);
    return;
  }

  if (!tf || !tf.refresh) {
    page.setAttribute("data-state", "error");
    say("The page script did not load, so your session could not be refreshed.", "Try again", next);
    return;
  }

  say("Refreshing…");
  tf.refresh().then(function (ok) {
    if (ok) {
      writeMarker();
      location.replace(next);
      return;
    }
    clearMarker();
    page.setAttribute("data-state", "ended");
    say("Your session has ended. Taking you to the login page…");
    location.replace(loginURL);
  }, function (err) {
    page.setAttribute("data-state", "error");
    var why = err && err.message ? " (" + err.message + ")" : "";
    say("Your session could not be refreshed right now" + why + ". Your session may still be valid.", "Try again", next);
  });
})();
