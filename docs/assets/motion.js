/* Frames that move: when the reader steps to a step, its frames travel the diagram.
 *
 * Nothing here is drawn by hand: every move is read from the marks the renderers put on the
 * drawing from the step's trace (netsim/render/graph.py, path.py): `ns-hN ns-sends` / `ns-in`
 * (frame N from its sender to its seat and into the bridge), `ns-out` (each copy the bridge
 * sends: several at once on a flood, one to a drop mark when it drops the frame), `ns-deliver`
 * (the copy reaching whoever sits there), `ns-knock` (a connection's knock on a door, a cross
 * when it fails), `ns-pN ns-packet` (the cards of the path view, in the order the frames went),
 * and a MAC table's new line (`data-learned-by`, the frame that taught it).
 *
 * The static figure is the whole story (it is what shows without JavaScript, in print, and
 * under prefers-reduced-motion, where nothing here runs); the motion only replays it. */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var DIM = 0.15;
  var running = null; // {animations, made, timer} of the replay on show

  function still() {
    return !window.matchMedia || window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function stop() {
    if (!running) return;
    clearTimeout(running.timer);
    running.animations.forEach(function (a) { a.cancel(); });
    running.made.forEach(function (el) { el.remove(); });
    running = null;
  }

  // The role colour of an edge (its stroke's palette class), for the frame that runs along it.
  function role(edge) {
    var path = edge.querySelector("path");
    var found = path && /(?:^|\s)nc-s-(\w+)/.exec(path.getAttribute("class") || "");
    return found ? found[1] : "ink";
  }

  function points(edge, backwards) {
    var path = edge.querySelector("path");
    if (!path || !path.getTotalLength) return null;
    var length = path.getTotalLength();
    var out = [];
    for (var k = 0; k <= 24; k++) {
      var at = path.getPointAtLength((length * (backwards ? 24 - k : k)) / 24);
      out.push({ x: at.x, y: at.y });
    }
    return out;
  }

  function shape(name, attrs, parent) {
    var el = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(el);
    return el;
  }

  function play(figure) {
    stop();
    if (still()) return;
    var svg = Array.prototype.find.call(figure.querySelectorAll(".ns-diagram svg"), function (s) {
      return s.getClientRects().length > 0;
    });
    if (!svg) return;
    var graph = svg.querySelector("g"); // Graphviz's graph group: the edges' coordinates
    var anims = [];
    var made = [];
    var leg = 0; // ms per move, set below from how many moves there are in a row
    var end = 0;

    function dim(el, from) { // faint until `from` ms, then as drawn
      var a = el.animate([{ opacity: DIM }, { opacity: DIM, offset: 0.999 }, { opacity: 1 }],
        { duration: Math.max(1, from), fill: "backwards" });
      a.nsAt = from;
      anims.push(a);
    }
    function travel(edge, at, backwards) { // a frame along `edge`, starting `at` ms
      var trail = points(edge, backwards);
      if (!trail) return null;
      var dot = shape("g", { class: "ns-dot", "aria-hidden": "true" }, graph);
      shape("rect", { x: -7, y: -5, width: 14, height: 10, rx: 2, class: "nc-f-" + role(edge) + " nc-s-paper",
        "stroke-width": 1.5 }, dot);
      made.push(dot);
      var frames = trail.map(function (p) { return { transform: "translate(" + p.x + "px, " + p.y + "px)" }; });
      var move = dot.animate(frames, { delay: at, duration: leg, easing: "ease-in-out", fill: "both" });
      var show = dot.animate([{ opacity: 0 }, { opacity: 1, offset: 0.1 }, { opacity: 1, offset: 0.9 }, { opacity: 0 }],
        { delay: at, duration: leg, fill: "both" });
      anims.push(move, show);
      dim(edge, at);
      end = Math.max(end, at + leg);
      return trail[trail.length - 1];
    }
    function cross(at, where, colour) { // where a frame or a knock ends, refused or dropped
      var mark = shape("g", { class: "ns-cross", "aria-hidden": "true" }, graph);
      shape("path", { d: "M-7,-7L7,7M7,-7L-7,7", class: "nc-s-" + colour, "stroke-width": 4, fill: "none",
        "stroke-linecap": "round" }, mark);
      made.push(mark);
      var base = "translate(" + where.x + "px, " + where.y + "px) ";
      anims.push(mark.animate([
        { opacity: 0, transform: base + "scale(0.2)" },
        { opacity: 1, transform: base + "scale(1.4)", offset: 0.4 },
        { opacity: 1, transform: base + "scale(1)" }], { delay: at, duration: 400, fill: "both" }));
      end = Math.max(end, at + 400);
    }
    function marked(name) { return Array.prototype.slice.call(svg.querySelectorAll("g." + name)); }
    function gv(el) { return el.getAttribute("data-gv") || ""; }

    // Frames on a bridge, in their order: into the bridge, then every copy out at once.
    var numbers = [];
    marked("ns-in").forEach(function (g) {
      var n = /(?:^|\s)ns-h(\d+)/.exec(g.getAttribute("class"));
      if (n && numbers.indexOf(+n[1]) < 0) numbers.push(+n[1]);
    });
    numbers.sort(function (a, b) { return a - b; });
    var knocks = marked("ns-knock");
    var cards = marked("ns-packet");
    var moves = numbers.length * 4 + knocks.length;
    leg = Math.max(220, Math.min(650, 2600 / Math.max(1, moves)));
    var t = 150;
    var learned = {}; // frame number -> when it reaches the bridge
    numbers.forEach(function (n) {
      var mine = function (part) { return marked("ns-h" + n + "." + part); };
      mine("ns-sends").forEach(function (e) { travel(e, t, true); }); // drawn seat -> sender
      t += leg;
      mine("ns-in").forEach(function (e) { travel(e, t, false); });
      t += leg;
      learned[n] = t;
      var last = t;
      mine("ns-out").forEach(function (out) {
        var head = gv(out).split("->")[1];
        var reached = travel(out, t, false);
        var drop = svg.querySelector('g.ns-drop[data-gv="' + head + '"]');
        if (drop) {
          dim(drop, t + leg);
          if (reached) cross(t + leg, reached, "drop");
          last = Math.max(last, t + leg + 400);
        }
        mine("ns-deliver").forEach(function (d) {
          if (gv(d).split("->")[0] === head) { travel(d, t + leg, false); last = Math.max(last, t + 2 * leg); }
        });
        last = Math.max(last, t + leg);
      });
      t = last;
    });
    // A knock on a door: from the program to the door, a cross where it is refused.
    knocks.forEach(function (k) {
      var reached = travel(k, t, false);
      t += leg;
      if (reached && role(k) === "drop") { cross(t, reached, "drop"); t += 400; }
    });
    // The path view's cards, in the order their frames went.
    cards.sort(function (a, b) { return first(a) - first(b); });
    function first(card) { return +(/(?:^|\s)ns-p(\d+)/.exec(card.getAttribute("class")) || [0, 0])[1]; }
    cards.forEach(function (card) { dim(card, t); t += Math.min(leg, 400); end = Math.max(end, t); });
    // The notebook: a new line appears as its frame reaches the bridge.
    figure.querySelectorAll("tr.ns-row-new").forEach(function (row) {
      var n = row.getAttribute("data-learned-by");
      var at = n !== null && learned[n] !== undefined ? learned[n] : end;
      anims.push(row.animate([{ opacity: 0 }, { opacity: 0, offset: 0.999 }, { opacity: 1 }],
        { duration: Math.max(1, at), fill: "backwards" }));
      anims.push(row.animate([{ backgroundColor: "var(--md-accent-fg-color--transparent)" }, { backgroundColor: "transparent" }],
        { delay: at, duration: 1200 }));
      end = Math.max(end, at);
    });
    if (!anims.length) return;
    running = { animations: anims, made: made, timer: setTimeout(stop, end + 1300) };
  }

  // stepper.js announces each step shown; only a step the reader moved to plays.
  document.addEventListener("ns-step", function (e) {
    if (e.detail && e.detail.moved && e.detail.step) play(e.detail.step);
    else stop();
  }, true);
  window.addEventListener("beforeprint", stop);
})();
