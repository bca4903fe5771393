/* Keyboard shortcuts for the officer view. Everything works without this file: each
   shortcut stands for a link or button that also has an access key. Single keys act only
   when no text field has the focus. */
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#worklist tbody tr")); }
  function current() {
    var list = rows();
    for (var i = 0; i < list.length; i++) { if (list[i].contains(document.activeElement)) { return i; } }
    return -1;
  }
  function focusRow(i) {
    var list = rows();
    if (!list.length) { return; }
    i = Math.max(0, Math.min(list.length - 1, i));
    var link = list[i].querySelector("a.item");
    if (link) { link.focus(); list[i].scrollIntoView({block: "nearest"}); }
  }
  function rowButton(value) {
    var i = current();
    if (i < 0) { return false; }
    var b = rows()[i].querySelector("button[value='" + value + "']");
    if (b) { b.click(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
    var key = e.key;
    var done = false;
    if (key === "/") {
      var q = document.getElementById("find-q");
      if (q) { q.focus(); q.select(); done = true; }
    } else if (document.body.classList.contains("page-parcel")) {
      if (key === "s" || key === "S") { done = click("#quick button[value=seized]"); }
      else if (key === "c" || key === "C") { done = click("#quick button[value=clean]"); }
      else if (key === "r" || key === "R") { done = click("#quick button[value=released]"); }
      else if (key === "n" || key === "N") { done = click("#next-parcel"); }
      else if (key === "q" || key === "Q") { done = click(".crumbs a"); }
    } else if (document.body.classList.contains("page-queue")) {
      if (key === "j" || key === "ArrowDown") { focusRow(current() + 1); done = true; }
      else if (key === "k" || key === "ArrowUp") { focusRow(current() - 1); done = true; }
      else if (key === "s") { done = rowButton("seized"); }
      else if (key === "c") { done = rowButton("clean"); }
      else if (key === "r") { done = rowButton("released"); }
    }
    if (done) { e.preventDefault(); }
  });
})();
