// Delete and Rotate secret cannot be undone, so their forms carry data-confirm: ask before
// sending. Loaded by base.html, so every page with those buttons asks (the health page had
// no script; the list page had its own inline copy); one listener on the document needs
// no onclick in the markup (tests/test_console_browser.py refuses any). Without script
// the buttons simply act.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
