// The service worker (static files offline, an offline page), photos shrunk before upload,
// and live updates from the notification stream. Every page works without this file: it only spares a reload. Each notification refreshes the bell, and announces itself on the body
// as "ftw-<kind>" (ftw-bid-new, ftw-message-new, ...) for the htmx parts that listen.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js");
  // A photo input marked data-shrink: each chosen photo redrawn with its longest side at most
  // data-shrink px, as JPEG (which also leaves its location behind); the smaller one is sent.
  function shrink(file, side, quality) {
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (done) {
        canvas.toBlob(function (blob) {
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          done(blob && blob.size < file.size ? new File([blob], name, { type: "image/jpeg" }) : file);
        }, "image/jpeg", quality);
      });
    }).catch(function () { return file; });  // not decodable here: the server decides
  }
  document.querySelectorAll("input[type=file][data-shrink]").forEach(function (input) {
    if (!window.createImageBitmap || !window.DataTransfer) return;
    input.addEventListener("change", function () {
      var button = input.form.querySelector("button[type=submit]");
      var side = Number(input.dataset.shrink), quality = Number(input.dataset.quality);
      button.disabled = true;
      Promise.all(Array.prototype.map.call(input.files, function (file) {
        return shrink(file, side, quality);
      })).then(function (files) {
        var chosen = new DataTransfer();
        files.forEach(function (file) { chosen.items.add(file); });
        input.files = chosen.files;
        button.disabled = false;
      });
    });
  });
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
