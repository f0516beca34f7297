/* Step through a scenario: Previous / Next, arrow keys, and an address per step.
 * Without this script every step is simply shown one after another. */
(function () {
  "use strict";
  var handlers = [];

  function setup(stepper) {
    if (stepper.dataset.ready) return;
    stepper.dataset.ready = "1";
    var steps = Array.prototype.slice.call(stepper.querySelectorAll(".ns-step"));
    var prev = stepper.querySelector(".ns-prev");
    var next = stepper.querySelector(".ns-next");
    var count = stepper.querySelector(".ns-count");
    var current = 0;
    stepper.classList.add("ns-js");

    function show(i, remember) {
      i = Math.max(0, Math.min(steps.length - 1, i));
      steps.forEach(function (s, k) { s.classList.toggle("ns-current", k === i); });
      count.textContent = "Step " + (i + 1) + " of " + steps.length;
      prev.disabled = i === 0;
      next.disabled = i === steps.length - 1;
      if (remember && i !== current) history.pushState(null, "", "#" + steps[i].id);
      current = i;
    }
    function fromAddress(scroll) {
      var k = steps.findIndex(function (s) { return "#" + s.id === location.hash; });
      if (k < 0) return false;
      show(k, false);
      if (scroll) stepper.scrollIntoView({ block: "start" });
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
    handlers.push(onAddress);
    if (!fromAddress(true)) show(0, false);
  }

  function init() {
    // Instant navigation swaps the page without a reload: forget the old page's listeners.
    handlers.forEach(function (h) {
      window.removeEventListener("popstate", h);
      window.removeEventListener("hashchange", h);
    });
    handlers = [];
    document.querySelectorAll(".ns-stepper").forEach(setup);
  }

  if (typeof window.document$ !== "undefined") {
    window.document$.subscribe(init);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
