// wxarchive web interface: progressive enhancement only — every page
// works without this script.
"use strict";
(function () {
  // Dates: the server writes them in the archive's time zone; show them
  // in the viewer's, keeping UTC in the title.
  var lang = document.documentElement.lang || "en";
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
  } catch (e) {
    fmt = null;
  }
  if (fmt) {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        el.textContent = fmt.format(d);
      }
    });
  }
  // The language switch applies on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  // Review shortcuts (high-volume review): on an alert, c claims, e
  // escalates, x goes to the disposition (closing needs one chosen); in
  // the list, j and k move between alerts. Never while typing.
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) {
      return;
    }
    var k = ev.key;
    if (k === "c" || k === "e") {
      var b = document.querySelector('button[data-key="' + k + '"]');
      if (b) { ev.preventDefault(); b.click(); }
    } else if (k === "x") {
      var d = document.getElementById("disposition");
      if (d) { ev.preventDefault(); d.focus(); }
    } else if (k === "j" || k === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("a.alert-link"));
      if (!links.length) { return; }
      var i = links.indexOf(document.activeElement);
      i = k === "j" ? Math.min(links.length - 1, i + 1) : Math.max(0, i - 1);
      ev.preventDefault();
      links[i].focus();
    }
  });
  // The message a conversation was opened at is scrolled into view.
  var here = document.querySelector(".bubble.here");
  if (here) { here.scrollIntoView({ block: "center" }); }
})();
