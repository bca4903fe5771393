/* Keyboard shortcuts for the officer view. Everything works without this file: each
   shortcut stands for a link or button that also has an access key (a seizure has none).
   Single keys act only when no text field has the focus. S never records a seizure by
   itself: it moves the focus to the Seized button and asks; Enter (the button's own key)
   records it, Escape or any other key cancels; Tab cancels and moves on from the button.
   The S hints and its aria-keyshortcuts are shown only here, as S works only with this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("scripts");  /* shows the .script-keys hints */
  Array.prototype.forEach.call(document.querySelectorAll("[data-keys]"), function (el) {
    el.setAttribute("aria-keyshortcuts", el.getAttribute("data-keys"));
  });
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); return true; }
    return false;
  }
  function click1(el) {
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
    if (i < 0) { return null; }
    return rows()[i].querySelector("button[value='" + value + "']");
  }
  var asking = null;  /* the Seized button that S focused, while its question shows */
  function prompt() {
    var p = document.getElementById("seize-confirm");
    if (!p) {
      p = document.createElement("p");
      p.id = "seize-confirm";
      p.className = "notice warn seize-confirm";
      p.setAttribute("role", "alert");
      p.hidden = true;
    }
    return p;
  }
  var before = null;  /* what had the focus before S moved it to the button */
  function stopAsking() {
    if (!asking) { return; }
    asking.classList.remove("asking");
    asking.removeEventListener("blur", stopAsking);
    asking = null;
    prompt().hidden = true;
  }
  function cancelAsking() {  /* the focus goes back: a later Enter does not press Seized */
    var button = asking;
    stopAsking();
    if (button && document.activeElement === button) {
      if (before && before !== document.body && document.contains(before)) { before.focus(); }
      else { button.blur(); }
    }
  }
  function askSeize(button) {
    if (!button) { return false; }
    if (asking === button) { return true; }  /* S again (or held down) asks, never records */
    stopAsking();
    before = document.activeElement;
    var p = prompt();
    p.textContent = button.getAttribute("data-confirm") || "";
    (button.form || button).after(p);  /* beside the button it asks about */
    p.hidden = false;
    button.focus();
    button.classList.add("asking");
    button.addEventListener("blur", stopAsking);
    asking = button;
    return true;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
    var key = e.key;
    var done = false;
    if (/^(Shift|Control|Alt|Meta|CapsLock)$/.test(key)) { return; }
    if (asking && key === "Tab") { stopAsking(); return; }  /* on from the button, as ever */
    if (asking && key !== "s" && key !== "S") {
      var confirmed = key === "Enter" && document.activeElement === asking;
      if (!confirmed) { cancelAsking(); }
      if (confirmed || key === "Escape") { return; }  /* Enter: the button's own submit */
    }
    if (key === "/") {
      var q = document.getElementById("find-q");
      if (q) { q.focus(); q.select(); done = true; }
    } else if (document.body.classList.contains("page-parcel")) {
      if (key === "s" || key === "S") { done = askSeize(document.querySelector("#quick button[value=seized]")); }
      else if (key === "c" || key === "C") { done = click("#quick button[value=clean]"); }
      else if (key === "r" || key === "R") { done = click("#quick button[value=released]"); }
      else if (key === "n" || key === "N") { done = click("#next-parcel"); }
      else if (key === "q" || key === "Q") { done = click(".crumbs a"); }
    } else if (document.body.classList.contains("page-queue")) {
      if (key === "j" || key === "ArrowDown") { focusRow(current() + 1); done = true; }
      else if (key === "k" || key === "ArrowUp") { focusRow(current() - 1); done = true; }
      else if (key === "s" || key === "S") { done = askSeize(rowButton("seized")); }
      else if (key === "c" || key === "C") { done = click1(rowButton("clean")); }
      else if (key === "r" || key === "R") { done = click1(rowButton("released")); }
    }
    if (done) { e.preventDefault(); }
  });
})();
