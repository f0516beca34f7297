/* The inline script of mkdocs-material 9.8.2's partials/javascripts/content.html as a file, so the
 * Content-Security-Policy can refuse inline scripts (overrides/partials/javascripts/content.html).
 * Copyright (c) 2016-2025 Martin Donath, MIT licence. Compare with the theme when it is upgraded. */
var tabs=__md_get("__tabs");if(Array.isArray(tabs))e:for(var set of document.querySelectorAll(".tabbed-set")){var labels=set.querySelector(".tabbed-labels");for(var tab of tabs)for(var label of labels.getElementsByTagName("label"))if(label.innerText.trim()===tab){var input=document.getElementById(label.htmlFor);input.checked=!0;continue e}}
