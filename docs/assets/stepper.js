/* Step through a scenario: Previous / Next, arrow keys, and an address per step.
 * Without this script every step is simply shown one after another.
 *
 * Only the first step is in the live page; the others, and every step's bytes, wait in
 * <noscript class="ns-later"> (netsim/pages/lazy.py): a text node with JavaScript on, so the
 * browser never styles or lays them out. later() turns one into elements when it is needed:
 * the reader steps to it, opens the bytes (or the try-it script), or prints. */
(function () {
  "use strict";
  var live = []; // [{stepper, onAddress}] for the steppers of the page on show

  // A waiting part as elements. Its inside is the noscript's HTML: text with scripting on, or
  // elements when the theme's instant navigation parsed the page without scripting.
  function later(noscript) {
    var template = document.createElement("template");
    template.innerHTML = noscript.innerHTML;
    var part = template.content;
    // A drawing the page already shows inline: a copy of that one instead of its image.
    // (Found by the file's name: the theme may have made the page's links absolute.)
    part.querySelectorAll("a.ns-shared").forEach(function (link) {
      var name = (link.getAttribute("href").match(/figures\/[0-9a-f]+\.svg$/) || [""])[0];
      var same = name && Array.prototype.find.call(
        document.querySelectorAll('a.ns-open:not(.ns-shared)[href$="/' + name + '"] > svg'),
        function (svg) { return !svg.closest("noscript"); });
      if (!same) return; // the image stays: the same drawing, from its file
      var img = link.querySelector("img");
      if (img) img.replaceWith(same.cloneNode(true));
      link.classList.remove("ns-shared");
    });
    // The bytes of a step just shown still wait for the reader to open them.
    part.querySelectorAll("details.ns-bytes:not([open])").forEach(function (details) {
      var wait = document.createElement("template");
      wait.className = "ns-later";
      Array.prototype.slice.call(details.childNodes).forEach(function (node) {
        if (node.nodeName !== "SUMMARY") wait.content.appendChild(node);
      });
      details.appendChild(wait);
    });
    var first = part.firstElementChild;
    noscript.replaceWith(part);
    return first;
  }

  // A folded part (a step's bytes, the try-it script) is made when the reader opens it.
  function unfold(details) {
    var wait = details.querySelector(":scope > .ns-later");
    if (!wait) return;
    if (wait.nodeName === "TEMPLATE") wait.replaceWith(wait.content);
    else later(wait);
  }
  // Before the click opens it (keys on the summary click too); a toggle by other means after.
  document.addEventListener("click", function (e) {
    var summary = e.target.closest && e.target.closest("details > summary");
    if (summary) unfold(summary.parentElement);
  }, true);
  document.addEventListener("toggle", function (e) {
    if (e.target.nodeName === "DETAILS" && e.target.open) unfold(e.target);
  }, true);

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
    // The steps in order: live figures, and the waiting ones (their id in data-id).
    var steps = Array.prototype.slice.call(stepper.querySelectorAll(":scope > .ns-step, :scope > noscript.ns-later"));
    var ids = steps.map(function (s) { return s.id || s.dataset.id; });
    var prev = stepper.querySelector(".ns-prev");
    var next = stepper.querySelector(".ns-next");
    var count = stepper.querySelector(".ns-count");
    var current = 0;
    stepper.classList.add("ns-js");

    function step(k) {
      if (steps[k].nodeName === "NOSCRIPT") steps[k] = later(steps[k]);
      return steps[k];
    }
    stepper.nsAll = function () { steps.forEach(function (_s, k) { step(k); }); };

    function show(i, remember) {
      i = Math.max(0, Math.min(steps.length - 1, i));
      var from = current;
      var shown = step(i);
      steps.forEach(function (s, k) { if (s.classList) s.classList.toggle("ns-current", k === i); });
      count.textContent = "Step " + (i + 1) + " of " + steps.length;
      prev.disabled = i === 0;
      next.disabled = i === steps.length - 1;
      if (remember && i !== current) history.pushState(null, "", "#" + ids[i]);
      current = i;
      stepper.dispatchEvent(new CustomEvent("ns-step", { detail: { from: from, to: i, step: shown, moved: remember } }));
    }
    function fromAddress(scroll) {
      var k = ids.indexOf(decodeURIComponent(location.hash.slice(1)));
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

  // Print shows every step (netsim.css): make the waiting ones first.
  function everyStep() {
    live.forEach(function (l) { if (document.contains(l.stepper)) l.stepper.nsAll(); });
  }
  window.addEventListener("beforeprint", everyStep);
  if (window.matchMedia) {
    var print = window.matchMedia("print");
    var onPrint = function (e) { if (e.matches) everyStep(); };
    if (print.addEventListener) print.addEventListener("change", onPrint);
    else if (print.addListener) print.addListener(onPrint);
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
