// Copy buttons for command blocks (the text stays selectable without JavaScript).
(function () {
  function addButtons(root) {
    root.querySelectorAll("pre.copyable").forEach(function (pre) {
      if (pre.querySelector("button.copy")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.addEventListener("click", function () {
        var text = pre.querySelector("code").innerText;
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
      pre.appendChild(button);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { addButtons(document); });
  document.addEventListener("htmx:afterSettle", function () { addButtons(document); });
  document.addEventListener("htmx:historyRestore", function () {
    // Restored markup has the buttons but not their listeners: make them again.
    document.querySelectorAll("pre.copyable button.copy").forEach(function (b) { b.remove(); });
    addButtons(document);
  });
})();
