/* The inline script of mkdocs-material 9.8.2's partials/javascripts/content.html as a file, so the
 * Content-Security-Policy can refuse inline scripts (overrides/partials/javascripts/content.html).
 * Copyright (c) 2016-2025 Martin Donath, MIT licence. Compare with the theme when it is upgraded. */
var target=document.getElementById(location.hash.slice(1));target&&target.name&&(target.checked=target.name.startsWith("__tabbed_"))
