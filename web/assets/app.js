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
})();
