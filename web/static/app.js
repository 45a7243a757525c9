// firebreak dashboard: progressive enhancement only; every page works
// without JavaScript. Served from /static (CSP script-src 'self').
(function () {
  "use strict";
  // Live incidents: refresh the table body every 5 seconds.
  var table = document.querySelector("table[data-live]");
  if (table) {
    var body = table.querySelector("tbody");
    var url = table.getAttribute("data-live");
    var busy = false;
    setInterval(function () {
      // Never while someone is working in the table: a refresh would drop
      // their focus and the cases they ticked for bulk acknowledge.
      if (busy || document.hidden || table.contains(document.activeElement) || table.querySelector("input:checked")) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && body.innerHTML !== html) body.innerHTML = html; // server-escaped fragment
        })
        .catch(function () {})
        .finally(function () { busy = false; });
    }, 5000);
  }
  // Narrow screens: per-item details (details.fold, open in the HTML) are
  // folded to their summary so a long list stays within a few screens;
  // widening the window opens them again.
  if (window.matchMedia) {
    var narrow = window.matchMedia("(max-width: 700px)");
    var fold = function () {
      document.querySelectorAll("details.fold").forEach(function (d) { d.open = !narrow.matches; });
    };
    if (narrow.matches) fold();
    if (narrow.addEventListener) narrow.addEventListener("change", fold);
  }
  // A wide table scrolls inside its card on narrow screens (WCAG 1.4.10):
  // such a card must be reachable by keyboard to be scrolled (axe
  // scrollable-region-focusable), so it takes a Tab stop while, and only
  // while, it actually scrolls.
  var scrollers = function () {
    document.querySelectorAll(".card, .scroll").forEach(function (c) {
      var scrolls = c.scrollWidth > c.clientWidth + 1;
      if (scrolls && !c.hasAttribute("tabindex")) {
        c.setAttribute("tabindex", "0");
        c.setAttribute("data-scroll-stop", "");
        if (!c.hasAttribute("aria-labelledby") && !c.hasAttribute("aria-label")) {
          var h = c.querySelector("h2, h3, caption");
          c.setAttribute("role", "region");
          c.setAttribute("aria-label", h ? h.textContent.trim() : "Scrollable table");
        }
      } else if (!scrolls && c.hasAttribute("data-scroll-stop")) {
        c.removeAttribute("tabindex");
        c.removeAttribute("data-scroll-stop");
      }
    });
  };
  scrollers();
  window.addEventListener("resize", scrollers);
  // Passkeys (WebAuthn): register on /account, sign in on /login/totp.
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  function b64u(buf) {
    var s = "", b = new Uint8Array(buf);
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : "{}" }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; });
    });
  }
  function say(msg) { var s = document.getElementById("passkey-status"); if (s) s.textContent = msg; }
  var reg = document.getElementById("passkey-register");
  if (reg && window.PublicKeyCredential) {
    reg.addEventListener("click", function () {
      say("Waiting for your authenticator…");
      post("/account/passkeys/options").then(function (o) {
        return navigator.credentials.create({ publicKey: {
          challenge: unb64u(o.challenge),
          rp: { id: o.rpId, name: o.rpName },
          user: { id: unb64u(o.userId), name: o.userName, displayName: o.userName },
          pubKeyCredParams: o.algorithms.map(function (a) { return { type: "public-key", alg: a }; }),
          excludeCredentials: o.credentials.map(function (id) { return { type: "public-key", id: unb64u(id) }; }),
          authenticatorSelection: { userVerification: o.userVerification, residentKey: "preferred" },
          attestation: "none", timeout: o.timeout } });
      }).then(function (c) {
        return post("/account/passkeys", { name: document.getElementById("pk-name").value, id: c.id,
          clientDataJSON: b64u(c.response.clientDataJSON), attestationObject: b64u(c.response.attestationObject) });
      }).then(function () { location.reload(); }, function (e) { say("Passkey not added: " + e.message); });
    });
  }
  var login = document.getElementById("passkey-login");
  if (login && window.PublicKeyCredential) {
    login.addEventListener("click", function () {
      say("Waiting for your authenticator…");
      post("/login/passkey/options").then(function (o) {
        return navigator.credentials.get({ publicKey: { challenge: unb64u(o.challenge), rpId: o.rpId,
          allowCredentials: o.credentials.map(function (id) { return { type: "public-key", id: unb64u(id) }; }),
          userVerification: o.userVerification, timeout: o.timeout } });
      }).then(function (c) {
        return post("/login/passkey", { id: c.id, clientDataJSON: b64u(c.response.clientDataJSON),
          authenticatorData: b64u(c.response.authenticatorData), signature: b64u(c.response.signature) });
      }).then(function (j) { location.href = j.next || "/"; }, function (e) { say("Passkey not accepted: " + e.message); });
    });
  }
  // Select a one-time secret on focus so it is easy to copy.
  var secret = document.getElementById("new-secret");
  if (secret) { secret.addEventListener("focus", function () { secret.select(); }); secret.focus(); }
})();
