// The Mini App's entry: Telegram puts the signed initData in the URL fragment (tgWebAppData);
// post it once to the server, which checks Telegram's signature and sets the session cookie.
(function () {
  "use strict";
  var params = new URLSearchParams(location.hash.slice(1));
  var data = params.get("tgWebAppData") || "";
  var message = document.getElementById("message");
  function failed() { message.textContent = message.getAttribute("data-failed"); }
  if (!data) { failed(); return; }
  fetch("/web/login/tma", {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: "initData=" + encodeURIComponent(data) +
      "&next=" + encodeURIComponent(new URLSearchParams(location.search).get("next") || "")
  }).then(function (response) {
    if (!response.ok) { failed(); return; }
    return response.json().then(function (body) { location.replace(body.next || "/web"); });
  }).catch(failed);
})();
