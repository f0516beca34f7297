/* Tap or click a diagram to see it full screen: the wide layout at its natural size, scrolled
 * with a finger. Without this script the same tap opens the diagram's own file. */
(function () {
  "use strict";

  function open(link) {
    var box = link.closest(".ns-diagram") || link;
    var svg = box.querySelector(".ns-wide svg") || link.querySelector("svg");
    if (!svg || typeof HTMLDialogElement === "undefined") return false;
    var dialog = document.createElement("dialog");
    dialog.className = "ns-full md-typeset";
    dialog.setAttribute("aria-label", "The diagram, full screen");
    var bar = document.createElement("div");
    bar.className = "ns-full-bar";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "md-button ns-full-close";
    close.textContent = "Close ✕";
    bar.appendChild(close);
    var body = document.createElement("div");
    body.className = "ns-full-body";
    body.appendChild(svg.cloneNode(true));
    dialog.appendChild(bar);
    dialog.appendChild(body);
    document.body.appendChild(dialog);
    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); link.focus(); });
    dialog.showModal();
    close.focus();
    return true;
  }

  // Capture: before the theme's instant navigation sees the click on a link.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.ns-open");
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    if (open(link)) { e.preventDefault(); e.stopPropagation(); }
  }, true);
})();

/* The bytes view: point at (tap, focus) a field and its bytes light up, or a byte and its field. */
(function () {
  "use strict";
  var lit = [];
  function light(target) {
    lit.forEach(function (el) { el.classList.remove("ns-lit"); });
    lit = [];
    var cell = target && target.closest && target.closest(".ns-frame [data-f]");
    if (!cell) return;
    var frame = cell.closest(".ns-frame");
    lit = Array.prototype.slice.call(frame.querySelectorAll('[data-f="' + cell.dataset.f + '"]'));
    lit.forEach(function (el) { el.classList.add("ns-lit"); });
  }
  document.addEventListener("pointerover", function (e) { if (e.target.closest(".ns-bytes")) light(e.target); });
  document.addEventListener("focusin", function (e) { if (e.target.closest(".ns-bytes")) light(e.target); });
  document.addEventListener("click", function (e) { if (e.target.closest(".ns-bytes")) light(e.target); });
})();
