import{a as e,b as o}from"./page-PIHTQWTU.js";o();e(document.getElementById("root"),{apiBase:new URL(".",window.location.href).pathname});
