// Loaded first, blocking: apply the remembered theme before the page paints (no flash).
// Nothing remembered: no data-theme, so the page follows prefers-color-scheme.
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("reelay-theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage blocked: follow the system */ }
})();
