/* The inline script of mkdocs-material 9.8.2's partials/javascripts/base.html as a file, so the
 * Content-Security-Policy can refuse inline scripts (overrides/partials/javascripts/base.html).
 * Changed: the scope comes from this tag's data-scope instead of being written into the script.
 * Copyright (c) 2016-2025 Martin Donath, MIT licence. Compare with the theme when it is upgraded. */
__md_scope=new URL(document.currentScript.dataset.scope,location),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+_.charCodeAt(0)),0),__md_get=(e,_=localStorage,t=__md_scope)=>JSON.parse(_.getItem(t.pathname+"."+e)),__md_set=(e,_,t=localStorage,a=__md_scope)=>{try{t.setItem(a.pathname+"."+e,JSON.stringify(_))}catch(e){}}
