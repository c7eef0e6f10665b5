// Follows the floor: the server sends the floor's HTML on every new engine snapshot
// (server-sent events, reconnected by the browser). If the stream breaks, the view is
// marked stale at once: figures on screen are never shown as current when they are not.
(function () {
  "use strict";
  var floor = document.getElementById("floor");
  if (!floor || !window.EventSource) { return; }
  var lastHeard = Date.now();
  var source = new EventSource(floor.dataset.stream);
  source.onmessage = function (event) {
    floor.innerHTML = JSON.parse(event.data).html;
    lastHeard = Date.now();
    // How far behind the engine this page is: snapshot time to now (for the tests).
    var ts = parseFloat(document.getElementById("verdict").dataset.ts);
    if (ts) { floor.dataset.lag = (lastHeard / 1000 - ts).toFixed(3); }
  };
  source.addEventListener("expired", function () { window.location.assign("/login"); });
  function markStale(why) {
    var verdict = document.getElementById("verdict");
    if (verdict && !verdict.classList.contains("console-lost")) {
      verdict.className = "verdict stale console-lost";
      verdict.textContent = "▲ STALE — " + why + "; the figures below are the last received, not current";
    }
  }
  source.onerror = function () { markStale("lost contact with the console"); };
  window.setInterval(function () {
    if (Date.now() - lastHeard > 3000) { markStale("no update from the console for 3 s"); }
  }, 1000);
})();
