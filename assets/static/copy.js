// Copy buttons for the read-only link fields. The buttons start hidden, so
// a browser without JavaScript shows only the field, from which the link
// can be selected and copied by hand.
"use strict";

for (const button of document.querySelectorAll("[data-copy-target]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copyTarget);
    if (!field) {
      return;
    }
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      // The Clipboard API needs a secure context (HTTPS or localhost), so
      // select the text for the visitor to copy instead.
      field.select();
      button.textContent = "Press Ctrl+C to copy";
    }
  });
}
