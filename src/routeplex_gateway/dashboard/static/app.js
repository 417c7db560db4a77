// Small progressive enhancements; every page works without them.
// Copy buttons: shown only when scripts run, they copy the text of the element they name.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error("no clipboard"));
  }

  function selectContents(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    var status = button.parentElement.querySelector(".copied");
    if (!target) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(target.textContent.trim()).then(
        function () {
          if (status) {
            status.textContent = "Copied.";
          }
        },
        function () {
          // Without clipboard access (plain http on another host): select it for Ctrl+C.
          selectContents(target);
          if (status) {
            status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
          }
        }
      );
    });
  });
})();
