/* The blue bar keeps itself current while its ticket page is open.
 *
 * Every data-live-interval seconds (only while the tab is visible) it asks its
 * data-live-url whether the ticket changed, sending the version it shows; an
 * unchanged ticket is answered 304. A changed one brings the new bar, which
 * replaces this one, and an "outsource:changed" event on the document tells
 * the host to refresh what it lists (notes, time, charges, attachments).
 * Plain JavaScript, loaded from the plugin itself: nothing is fetched from elsewhere.
 */
(function () {
  "use strict";

  var busy = false;

  function currentBar() {
    return document.querySelector(".outsource-bar[data-live-url]");
  }

  function redraw(bar, answer) {
    var template = document.createElement("template");
    template.innerHTML = answer.bar;
    var fresh = template.content.querySelector(".outsource-bar");
    if (fresh) {
      bar.replaceWith(fresh);
    } else {
      bar.remove();
    }
    document.dispatchEvent(new CustomEvent("outsource:changed", { detail: { version: answer.version } }));
  }

  function later() {
    var bar = currentBar();
    busy = Boolean(bar) && !document.hidden;
    if (busy) {
      window.setTimeout(check, parseFloat(bar.dataset.liveInterval) * 1000);
    }
  }

  function check() {
    var bar = currentBar();
    if (!bar || document.hidden) {
      busy = false;
      return;
    }
    var held = bar.dataset.liveVersion;
    window
      .fetch(bar.dataset.liveUrl, {
        headers: { Accept: "application/json", "If-None-Match": '"' + held + '"' },
        credentials: "same-origin",
        cache: "no-store",
      })
      .then(function (response) {
        return response.status === 200 ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && answer.version !== held && bar.isConnected) {
          redraw(bar, answer);
        }
      })
      .catch(function () {
        /* the server or the network is away: the next check tries again */
      })
      .then(later);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !busy) {
      busy = true;
      check();
    }
  });
  later();
})();
