/* Step through a scenario: Previous / Next, arrow keys, and an address per step.
 * Without this script every step is simply shown one after another. */
(function () {
  "use strict";
  var live = []; // [{stepper, onAddress}] for the steppers of the page on show

  function header() {
    var h = document.querySelector(".md-header");
    return h ? h.getBoundingClientRect().height : 0;
  }

  // Bring the stepper's controls just below the sticky header (the browser's own jump to
  // the step's id would leave them under it).
  function land(stepper) {
    var controls = stepper.querySelector(".ns-stepper-controls") || stepper;
    var top = controls.getBoundingClientRect().top + window.scrollY - header() - 8;
    window.scrollTo(0, Math.max(0, top));
  }

  function setup(stepper) {
    stepper.dataset.ready = "1";
    var steps = Array.prototype.slice.call(stepper.querySelectorAll(".ns-step"));
    var prev = stepper.querySelector(".ns-prev");
    var next = stepper.querySelector(".ns-next");
    var count = stepper.querySelector(".ns-count");
    var current = 0;
    stepper.classList.add("ns-js");

    function show(i, remember) {
      i = Math.max(0, Math.min(steps.length - 1, i));
      var from = current;
      steps.forEach(function (s, k) { s.classList.toggle("ns-current", k === i); });
      count.textContent = "Step " + (i + 1) + " of " + steps.length;
      prev.disabled = i === 0;
      next.disabled = i === steps.length - 1;
      if (remember && i !== current) history.pushState(null, "", "#" + steps[i].id);
      current = i;
      stepper.dispatchEvent(new CustomEvent("ns-step", { detail: { from: from, to: i, step: steps[i] } }));
    }
    function fromAddress(scroll) {
      var k = steps.findIndex(function (s) { return "#" + s.id === location.hash; });
      if (k < 0) return false;
      show(k, false);
      if (scroll) land(stepper);
      return true;
    }
    prev.addEventListener("click", function () { show(current - 1, true); });
    next.addEventListener("click", function () { show(current + 1, true); });
    stepper.addEventListener("keydown", function (e) {
      if (e.target.closest("summary, a, button") && e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      if (e.key === "ArrowLeft") { show(current - 1, true); e.preventDefault(); }
      if (e.key === "ArrowRight") { show(current + 1, true); e.preventDefault(); }
    });
    var onAddress = function () { fromAddress(true); };
    window.addEventListener("popstate", onAddress);
    window.addEventListener("hashchange", onAddress);
    live.push({ stepper: stepper, onAddress: onAddress });
    if (fromAddress(true)) {
      // The browser jumps to the id once more when the page has loaded: land again after it.
      window.addEventListener("load", function () { if (document.contains(stepper)) fromAddress(true); }, { once: true });
    } else {
      show(0, false);
    }
  }

  function init() {
    // Instant navigation swaps the page without a reload: forget the old page's steppers.
    live = live.filter(function (l) {
      if (document.contains(l.stepper)) return true;
      window.removeEventListener("popstate", l.onAddress);
      window.removeEventListener("hashchange", l.onAddress);
      return false;
    });
    document.querySelectorAll(".ns-stepper").forEach(function (s) { if (!s.dataset.ready) setup(s); });
  }

  // The theme's document$ announces every page, but it never fires on a site opened from a
  // folder (file://): start on the document's own ready signal too. init() runs once per stepper.
  if (typeof window.document$ !== "undefined") window.document$.subscribe(init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
