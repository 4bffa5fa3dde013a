// Telegram passes its theme in the URL fragment of a Mini App; keep it for the pages that follow.
(function () {
  "use strict";
  var params = new URLSearchParams(location.hash.slice(1));
  var theme = params.get("tgWebAppThemeParams");
  try {
    if (theme) { sessionStorage.setItem("tgTheme", theme); }
    theme = theme || sessionStorage.getItem("tgTheme");
    if (!theme) { return; }
    var colours = JSON.parse(theme);
    Object.keys(colours).forEach(function (key) {
      if (/^#[0-9a-fA-F]{3,8}$/.test(colours[key])) {
        document.documentElement.style.setProperty("--tg-" + key.replace(/_/g, "-"), colours[key]);
      }
    });
  } catch (e) { /* no theme: the page's own colours */ }
})();
