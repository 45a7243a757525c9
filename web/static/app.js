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
      if (busy || document.hidden) return;
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
  // Select a one-time secret on focus so it is easy to copy.
  var secret = document.getElementById("new-secret");
  if (secret) { secret.addEventListener("focus", function () { secret.select(); }); secret.focus(); }
})();
