// The service worker (static files offline, an offline page), and live updates from the
// notification stream. Every page works without this file: it only spares a reload. Each notification refreshes the bell, and announces itself on the body
// as "ftw-<kind>" (ftw-bid-new, ftw-message-new, ...) for the htmx parts that listen.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js");
  if (!window.EventSource || !document.getElementById("bell")) return;
  var kinds = ["bid.new", "bid.accepted", "message.new", "review.new", "payment.failed",
               "payment.pending", "invoice.sent", "invoice.reminder", "payout.paid", "crm.follow_up"];
  var source = new EventSource("/events");
  kinds.forEach(function (kind) {
    source.addEventListener(kind, function () {
      var name = "ftw-" + kind.replace(/[._]/g, "-");
      document.body.dispatchEvent(new CustomEvent(name, { bubbles: true }));
      document.body.dispatchEvent(new CustomEvent("ftw-notification", { bubbles: true }));
    });
  });
})();
