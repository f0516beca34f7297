/* The error decoder: explain a pasted connection error word by word, in the browser.
 * The words come from the page's own data (netsim/pages/decoderpage.py); nothing is fetched,
 * so it works offline and from a folder. decode() is a copy of netsim.decoder.decode(): the
 * browser test holds the two to the same answers. Everything pasted is shown as text only. */
(function () {
  "use strict";
  // The same pattern as netsim/decoder.py ADDRESS (JavaScript has lookbehind since ES2018).
  var ADDRESS = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?(?![\d.])/g;

  function toInt(ip) {
    var p = ip.split(".").map(Number);
    if (p.some(function (n) { return n > 255; })) return null;
    return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
  }

  function addressNote(ip, data) {
    var n = toInt(ip);
    if (n === null) return null;
    var best = null, bestLen = -1;
    data.addresses.forEach(function (a) {
      var parts = a.prefix.split("/"), len = Number(parts[1]);
      var net = toInt(parts[0]);
      var mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      if (((n & mask) >>> 0) === net && len > bestLen) { best = a; bestLen = len; }
    });
    return best ? best.prefix : "other";
  }

  function decode(line, data) {
    var low = line.toLowerCase(), found = [];
    data.entries.forEach(function (e) {
      e.match.forEach(function (word) {
        var w = word.toLowerCase(), at = low.indexOf(w);
        while (at >= 0) { found.push({ start: at, end: at + w.length, id: e.id, note: "" }); at = low.indexOf(w, at + 1); }
      });
    });
    var m;
    ADDRESS.lastIndex = 0;
    while ((m = ADDRESS.exec(line)) !== null) {
      var note = addressNote(m[1], data);
      if (note !== null) found.push({ start: m.index, end: m.index + m[0].length, id: "address", note: note });
    }
    found.sort(function (a, b) {
      return a.start - b.start || (b.end - b.start) - (a.end - a.start) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    var chosen = [], end = 0;
    found.forEach(function (t) { if (t.start >= end) { chosen.push(t); end = t.end; } });
    return chosen;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(post) {
    var a = el("a", "", post.title);
    a.href = post.href;
    return a;
  }

  function explain(line, data, out) {
    out.textContent = "";
    var byId = {};
    data.entries.forEach(function (e) { byId[e.id] = e; });
    var tokens = decode(line, data);
    if (!line.trim()) return;
    if (!tokens.length) {
      out.appendChild(el("p", "ns-decoder-none", "I know none of these words yet. The list below is everything the decoder knows."));
      return;
    }
    // The line itself, with each known word marked.
    var shown = el("p", "ns-decoder-line"), at = 0;
    tokens.forEach(function (t, i) {
      shown.appendChild(document.createTextNode(line.slice(at, t.start)));
      var mark = el("mark", "ns-decoder-mark", line.slice(t.start, t.end));
      mark.dataset.n = String(i + 1);
      shown.appendChild(mark);
      at = t.end;
    });
    shown.appendChild(document.createTextNode(line.slice(at)));
    out.appendChild(shown);
    var list = el("ol", "ns-decoder-tokens");
    var first = {}; // an entry's number in the list, where its explanation is; a word of it again points there
    tokens.forEach(function (t, i) {
      var item = el("li", "ns-decoder-token");
      item.dataset.id = t.id;
      item.appendChild(el("code", "", line.slice(t.start, t.end)));
      if (t.id === "address") {
        var a = null;
        data.addresses.forEach(function (x) { if (x.prefix === t.note) a = x; });
        item.appendChild(el("p", "", a ? "An address: " + a.says + "." : "An address outside the networks this series uses."));
        if (a) { var p0 = el("p", "", "Explained in "); p0.appendChild(link(a.post)); item.appendChild(p0); }
      } else if (first[t.id] !== undefined) {
        item.appendChild(el("p", "", "Another way of saying number " + first[t.id] + ", explained above."));
      } else {
        first[t.id] = i + 1;
        var e = byId[t.id];
        item.appendChild(el("p", "ns-decoder-layer", "Who says it: " + e.layer + "."));
        item.appendChild(el("p", "", e.meaning));
        e.wire.forEach(function (w) { item.appendChild(el("p", "ns-decoder-wire", "On the wire: " + w)); });
        if (e.causes.length) {
          item.appendChild(el("p", "", "Likely causes, in the order I would check them:"));
          var causes = el("ol");
          e.causes.forEach(function (c) {
            var li = el("li", "", c.cause + " ");
            li.appendChild(el("code", "", c.check));
            causes.appendChild(li);
          });
          item.appendChild(causes);
        }
        var p = el("p", "", "Explained in ");
        p.appendChild(link(e.post));
        item.appendChild(p);
      }
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  function setup(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var data = JSON.parse(root.querySelector("#ns-decoder-data").textContent);
    var input = root.querySelector("#ns-decoder-input");
    var out = root.querySelector("#ns-decoder-output");
    var run = function () { explain(input.value, data, out); };
    input.addEventListener("input", run);
    root.querySelectorAll(".ns-decoder-example").forEach(function (b) {
      b.addEventListener("click", function () { input.value = b.dataset.line; run(); });
    });
    window.nsDecode = function (line) { return decode(line, data); }; // for the browser test
    window.nsDecodeWith = decode; // the same, with other words (the test's overlapping ones)
    // decoder.html?line=... opens with that line explained, so an explanation can be shared.
    var given = new URLSearchParams(window.location.search).get("line");
    if (given && !input.value) input.value = given.slice(0, 2000);
    run();
  }

  function start() { document.querySelectorAll(".ns-decoder").forEach(setup); }
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(start);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
