// The interstitial page: the access token expired, so trade the refresh
// token for a new pair and continue to the page that was asked for. If that
// fails, the session is over: go to the login page, keeping the destination.
(function () {
  "use strict";
  var page = document.getElementById("interstitial");
  if (!page) return;
  var next = page.getAttribute("data-next") || "/dashboard";
  var status = document.getElementById("interstitial-status");
  if (status) status.textContent = "Refreshing…";
  var refresh = window.tokenflow ? window.tokenflow.refresh : function () { return Promise.resolve(false); };
  refresh().then(function (ok) {
    if (ok) {
      location.replace(next);
    } else {
      if (status) status.textContent = "Your session has ended. Taking you to the login page…";
      location.replace("/auth/login?next=" + encodeURIComponent(next));
    }
  });
})();
