/* The search index is fetched when the reader first reaches for search, not on every page load.
 *
 * mkdocs-material 9.8.2 requests search/search_index.json (about 60 KB compressed, more than any
 * post's own HTML but one) as soon as a page starts, with XMLHttpRequest; Zensical 0.0.73 does the
 * same with its search.json (about 70 KB), from the same place in its bundle. That alone took
 * posts past the 200 KB first-load budget (issue 14). This holds that one request back until the
 * reader clicks or focuses the search, or presses one of the theme's search keys (f, s, /); the
 * theme shows "Initializing search" meanwhile. Every other request goes out untouched. Loaded in
 * the head, before the theme's bundle (overrides/partials/javascripts/base.html).
 */
(function () {
  // mkdocs-material's index, or Zensical's (search.json at the site's root).
  var INDEX = /\/(?:search\/search_index|search)\.json(?:[?#]|$)/;
  var waiting = [];
  var wanted = false;
  function want() {
    if (wanted) return;
    wanted = true;
    waiting.splice(0).forEach(function (go) { go(); });
  }
  function near(e) {
    var t = e.target;
    return t && t.closest && t.closest(".md-search, [for='__search'], #__search");
  }
  document.addEventListener("click", function (e) { if (near(e)) want(); }, true);
  document.addEventListener("focusin", function (e) { if (near(e)) want(); }, true);
  document.addEventListener("change", function (e) { if (e.target && e.target.id === "__search") want(); }, true);
  document.addEventListener("keydown", function (e) {
    if (!e.ctrlKey && !e.metaKey && !e.altKey && (e.key === "f" || e.key === "s" || e.key === "/")) want();
  }, true);

  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__nsIndex = INDEX.test(String(url));
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this, args = arguments;
    if (!xhr.__nsIndex || wanted) return send.apply(xhr, args);
    waiting.push(function () { send.apply(xhr, args); });
  };
})();
