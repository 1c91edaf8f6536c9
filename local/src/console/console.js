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
  markSelected();

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
      })
      .catch(function () { /* the server may be restarting: try again next time */ })
      .then(function () { window.setTimeout(refresh, 1000); });
  }
  window.setTimeout(refresh, 1000);
})();
