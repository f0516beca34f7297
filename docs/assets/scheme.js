/* The reader's colour scheme on the body before the post arrives.
 *
 * The theme writes the first palette of mkdocs.yml (light) on <body>, and picks the one that
 * matches prefers-color-scheme only when its bundle runs, at the end of the page: until then a
 * dark-scheme reader sees the post drawn light, then repainted dark. Here, right after the theme's
 * palette.js (which applies a palette the reader chose before) and before the post, a reader who
 * chose none gets the palette the bundle will choose, by its rule (mkdocs-material 9.8.2,
 * src/templates/assets/javascripts/components/palette/index.ts, watchPalette): the first input of
 * the palette form whose data-md-color-media matches, else the first input. The bundle then finds
 * that palette already shown and sets the same values again. Loaded by
 * overrides/partials/javascripts/palette.html, as a file: the pages' policy refuses inline scripts
 * (netsim/pages/csp.py). The Zensical build (zensical.yml inherits mkdocs.yml's custom_dir) loads
 * it too; Zensical 0.0.73's bundle (no source map) has the same rule and the same late change.
 */
(function () {
  "use strict";
  if (window.__md_get && __md_get("__palette")) return; // palette.js has applied the reader's choice
  var inputs = Array.prototype.slice.call(document.querySelectorAll("[data-md-component=palette] input"));
  if (!inputs.length) return;
  var index = inputs.findIndex(function (input) {
    return matchMedia(input.getAttribute("data-md-color-media")).matches;
  });
  var chosen = inputs[Math.max(0, index)];
  ["scheme", "primary", "accent"].forEach(function (key) {
    var value = chosen.getAttribute("data-md-color-" + key);
    if (value !== null) document.body.setAttribute("data-md-color-" + key, value);
  });
})();
