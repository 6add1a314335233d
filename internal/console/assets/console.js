// Wyvern console: refresh the elements that name a data-src every
// data-refresh milliseconds (the topology picture, the chassis table, a
// port's status). No framework: fetch and innerHTML.
"use strict";
(function () {
  function refresh(el) {
    var src = el.getAttribute("data-src");
    fetch(src, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location = "/console/login?next=" + encodeURIComponent(window.location.pathname); return null; }
        return r.ok ? r.text() : Promise.reject(new Error(r.status + " " + r.statusText));
      })
      .then(function (text) {
        if (text === null) { return; }
        if (el.id === "port-status") {
          el.textContent = text;
          el.className = "pill " + text.toLowerCase();
        } else {
          el.innerHTML = text;
        }
        el.setAttribute("data-updated", new Date().toISOString());
        var age = document.getElementById(el.id + "-age");
        if (age) { age.textContent = "updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function (err) {
        var age = document.getElementById(el.id + "-age");
        if (age) { age.textContent = "not updated: " + err.message; }
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-src]").forEach(function (el) {
      refresh(el);
      var every = parseInt(el.getAttribute("data-refresh") || "0", 10);
      if (every > 0) { setInterval(function () { refresh(el); }, every); }
    });
  });
})();
