import{a as e,b as o}from"./page-4YEWXZZM.js";o();e(document.getElementById("root"),{apiBase:new URL(".",window.location.href).pathname});
