// The console's only script: marks the selected state, and refreshes the parts of a page
// marked `data-live` (the orders list; an order while its execution runs) once a second,
// from the same URL, without reloading the page. Every page works without it.
(function () {
  "use strict";
  function markSelected() {
    document.querySelectorAll("a.state").forEach(function (state) {
      var selected = state.getAttribute("href") === location.hash;
      state.classList.toggle("selected", selected);
      if (selected) { state.setAttribute("aria-current", "true"); } else { state.removeAttribute("aria-current"); }
    });
  }
  window.addEventListener("hashchange", markSelected);

  // Where the selected state's panel sits beside the graph, selecting a state keeps the page
  // where it is instead of jumping to the panel.
  var besideTheGraph = window.matchMedia("(min-width: 1000px)");
  document.addEventListener("click", function (event) {
    var state = event.target.closest && event.target.closest("a.state");
    if (!state || !besideTheGraph.matches) { return; }
    event.preventDefault();
    var x = window.scrollX, y = window.scrollY;
    location.hash = state.getAttribute("href");
    window.scrollTo(x, y);
  });
  markSelected();

  // A graph wider or taller than its box opens on what matters: the state running now, else
  // the last that failed, else the first state.
  function showWhatMatters() {
    document.querySelectorAll(".graph").forEach(function (graph) {
      var states = graph.querySelectorAll("a.state");
      var running = graph.querySelector("a.state.running");
      var failed = graph.querySelectorAll("a.state.failed");
      var target = running || failed[failed.length - 1] || states[0];
      if (!target) { return; }
      var box = target.getBoundingClientRect(), frame = graph.getBoundingClientRect();
      graph.scrollLeft += box.left + box.width / 2 - (frame.left + frame.width / 2);
      graph.scrollTop += box.top + box.height / 2 - (frame.top + frame.height / 2);
    });
  }
  showWhatMatters();

  function refresh() {
    var live = Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
    if (live.length === 0) { return; }
    fetch(location.href, { headers: { accept: "text/html" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html");
        live.forEach(function (part) {
          var replacement = fresh.getElementById(part.id);
          if (replacement && replacement.outerHTML !== part.outerHTML) {
            part.replaceWith(document.importNode(replacement, true));
          }
        });
        markSelected();
        showWhatMatters();
      })
      .catch(function () { /* the server may be restarting: try again next time */ })
      .then(function () { window.setTimeout(refresh, 1000); });
  }
  window.setTimeout(refresh, 1000);
})();
