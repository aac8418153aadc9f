// The token lab's page script (GET /lab): gets a lab token, lets people
// edit its three parts, sends the edit and the unchanged token to
// POST /lab/verify, and shows which check refused which and why. The lab
// token is minted for the audience "tokenflow-lab", which no guarded route
// accepts: it is safe in page script, unlike the HttpOnly access cookie,
// which nothing here can read.
// Plain JavaScript, no build step. Every value from the server or the
// token goes into the page as text, never as markup.
(function () {
  "use strict";

  var cookieLimit = 4096; // what a browser keeps of one cookie
  var verifierLimit = 8192; // tokens.MaxTokenLength

  var lab = null; // {token, header, payload, signature, expiresAt}
  var grown = 0; // how many 500-byte claims were added
  var recallTimer = null;

  function $(id) { return document.getElementById(id); }

  function decodeSegment(seg) {
    var b64 = seg.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(bytes);
  }

  function encodeBytes(bytes) {
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function encodeText(text) { return encodeBytes(new TextEncoder().encode(text)); }

  // editedToken is the token as the editor spells it now: the header and
  // payload exactly as typed (so an untouched editor gives back the very
  // bytes that were signed), then the signature.
  function editedToken() {
    return encodeText($("lab-header").value) + "." + encodeText($("lab-payload").value) + "." + $("lab-signature").value.trim();
  }

  function showEncoded() {
    var token = editedToken();
    var parts = token.split(".");
    var out = $("lab-token");
    out.textContent = "";
    var classes = ["jwt-header", "jwt-payload", "jwt-signature"];
    parts.forEach(function (p, i) {
      if (i > 0) out.appendChild(document.createTextNode("."));
      var span = document.createElement("span");
      span.className = classes[i] || "";
      span.textContent = p;
      out.appendChild(span);
    });
    var n = new TextEncoder().encode(token).length;
    var note = n + " bytes (a cookie holds " + cookieLimit + ", the verifier reads at most " + verifierLimit + ")";
    if (n > verifierLimit) note += ": too long for the verifier";
    else if (n > cookieLimit) note += ": too long for a cookie";
    $("lab-size").textContent = note;
  }

  function setStatus(text) { $("lab-status").textContent = text; }

  function load(token, expiresAt) {
    var seg = token.split(".");
    lab = { token: token, header: decodeSegment(seg[0]), payload: decodeSegment(seg[1]), signature: seg[2], expiresAt: expiresAt };
    grown = 0;
    resetEditor();
    $("lab-editor").hidden = false;
    clearResults();
    tick();
  }

  function clearResults() {
    ["lab-result-edited", "lab-result-original"].forEach(function (id) {
      var box = $(id);
      box.textContent = "";
      box.removeAttribute("data-verdict");
      box.removeAttribute("data-check");
    });
  }

  function resetEditor() {
    $("lab-header").value = lab.header;
    $("lab-payload").value = lab.payload;
    $("lab-signature").value = lab.signature;
    showEncoded();
  }

  // postJSON sends body to url as JSON; one refresh and retry when the
  // access token expired (the lab page may have sat open for minutes).
  function postJSON(url, body, retried) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json" },
      body: body === undefined ? "" : JSON.stringify(body)
    }).then(function (res) {
      var challenge = res.headers.get("WWW-Authenticate") || "";
      if (!retried && res.status === 401 && url === "/lab/token" && challenge.indexOf("invalid_token") >= 0) {
        return fetch("/auth/refresh", { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? postJSON(url, body, true) : res; });
      }
      return res;
    });
  }

  function mint() {
    setStatus("Asking POST /lab/token for a lab token…");
    return postJSON("/lab/token").then(function (res) {
      if (!res.ok) {
        setStatus("POST /lab/token answered " + res.status + ": log in again to get a lab token.");
        return;
      }
      return res.json().then(function (body) {
        load(body.token, new Date(body.expires_at));
        setStatus("Lab token received: " + body.bytes + " bytes, audience " + body.aud + ". Edit it, then send.");
      });
    }, function () { setStatus("No answer from the server."); });
  }

  function withJSON(id, change) {
    var field = $(id);
    var obj;
    try { obj = JSON.parse(field.value); } catch (e) { setStatus("That part is not JSON now; undo the edits first."); return false; }
    change(obj);
    field.value = JSON.stringify(obj);
    return true;
  }

  // signWithPublicKey is the algorithm-confusion attack: HS256, with the
  // bytes of the server's public JWK as the HMAC secret. A verifier that
  // let the token pick its algorithm would accept it.
  function signWithPublicKey() {
    if (!window.crypto || !crypto.subtle) {
      setStatus("WebCrypto needs a secure context (https, or http://localhost).");
      return Promise.resolve();
    }
    return fetch("/.well-known/jwks.json", { headers: { "Accept": "application/json" } }).then(function (res) {
      if (!res.ok) throw new Error("JWKS answered " + res.status);
      return res.json();
    }).then(function (jwks) {
      var kid = JSON.parse(lab.header).kid;
      var jwk = jwks.keys.filter(function (k) { return k.kid === kid; })[0] || jwks.keys[0];
      withJSON("lab-header", function (h) { h.alg = "HS256"; });
      var input = encodeText($("lab-header").value) + "." + encodeText($("lab-payload").value);
      var secret = new TextEncoder().encode(JSON.stringify(jwk));
      return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]).then(function (key) {
        return crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input));
      }).then(function (mac) {
        $("lab-signature").value = encodeBytes(new Uint8Array(mac));
        setStatus("Signed with HS256, the secret being the public JWK " + jwk.kid + " as JSON text.");
      });
    }).catch(function (e) { setStatus("Could not sign: " + e.message); });
  }

  var edits = {
    claim: function () { withJSON("lab-payload", function (p) { p.sub = "someone-else"; }); },
    none: function () {
      if (withJSON("lab-header", function (h) { h.alg = "none"; })) $("lab-signature").value = "";
    },
    hs256: signWithPublicKey,
    kid: function () { withJSON("lab-header", function (h) { h.kid = "attacker-chosen-key"; }); },
    strip: function () { $("lab-signature").value = ""; },
    grow: function () {
      withJSON("lab-payload", function (p) { grown++; p["padding" + grown] = new Array(501).join("x"); });
    },
    reset: function () { grown = 0; resetEditor(); }
  };

  // showVerdict writes one answer of POST /lab/verify into box.
  function showVerdict(box, status, v) {
    box.textContent = "";
    function line(label, value) {
      if (value === undefined || value === "") return;
      var p = document.createElement("p");
      var b = document.createElement("strong");
      b.textContent = label + ": ";
      p.appendChild(b);
      p.appendChild(document.createTextNode(String(value)));
      box.appendChild(p);
    }
    if (v.valid) {
      line("Verdict", status + ", accepted");
      line("Claims", "sub " + v.claims.sub + ", username " + v.claims.username + ", aud " + v.claims.aud);
      line("Expires in", v.expires_in + " s");
      box.setAttribute("data-verdict", "valid");
      return;
    }
    line("Verdict", status + ", refused");
    line("Check", v.check);
    line("error_description (what /api/me says)", v.message);
    line("Reason (what the library says)", v.reason);
    line("README", v.readme ? "section “" + v.readme + "”" : "");
    if (!v.check) line("Error", v.message || v.error);
    box.setAttribute("data-verdict", "refused");
    box.setAttribute("data-check", v.check || "");
  }

  function verify(token, box) {
    return postJSON("/lab/verify", { token: token }).then(function (res) {
      return res.json().then(function (v) { showVerdict(box, res.status, v); return res.status; });
    }, function () { box.textContent = "No answer from the server."; });
  }

  function sendBoth() {
    if (!lab) return;
    showEncoded();
    clearResults();
    verify(editedToken(), $("lab-result-edited"));
    verify(lab.token, $("lab-result-original"));
  }

  function tick() {
    if (!lab) return;
    var left = Math.round((lab.expiresAt.getTime() - Date.now()) / 1000);
    $("lab-countdown").textContent = left > 0 ? left + " s" : "now (it has expired)";
  }

  // logoutEverywhere ends every session of this user and clears the
  // cookies, then keeps sending the lab token: it stays valid until its
  // exp, because a verifier checks only the token.
  function logoutEverywhere() {
    var box = $("lab-recall");
    var start = lab ? Promise.resolve() : mint();
    start.then(function () {
      if (!lab) return;
      var token = lab.token;
      return fetch("/auth/logout", {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "scope=global"
      }).then(function () {
        box.textContent = "";
        var done = document.createElement("p");
        done.textContent = "Logged out everywhere: every session ended in the store, cookies cleared.";
        box.appendChild(done);
        var me = document.createElement("p");
        me.setAttribute("data-testid", "recall-me");
        box.appendChild(me);
        var still = document.createElement("div");
        still.setAttribute("data-testid", "recall-lab");
        box.appendChild(still);
        function check() {
          fetch("/api/me", { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (res) {
            me.textContent = "GET /api/me with the (cleared) cookie: " + res.status + ".";
          });
          verify(token, still).then(function (status) {
            if (status !== 200 && recallTimer) { clearInterval(recallTimer); recallTimer = null; }
          });
        }
        check();
        if (recallTimer) clearInterval(recallTimer);
        recallTimer = setInterval(check, 5000);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("lab")) return;
    $("lab-mint").addEventListener("click", mint);
    $("lab-send").addEventListener("click", sendBoth);
    $("lab-logout-everywhere").addEventListener("click", logoutEverywhere);
    ["lab-header", "lab-payload", "lab-signature"].forEach(function (id) {
      $(id).addEventListener("input", showEncoded);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-edit]"), function (button) {
      button.addEventListener("click", function () {
        if (!lab) return;
        Promise.resolve(edits[button.getAttribute("data-edit")]()).then(showEncoded);
      });
    });
    setInterval(tick, 1000);
  });
})();
