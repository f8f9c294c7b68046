// Scan forms on the back-store pages: after each answer, empty the form and put the cursor back
// in the scan field, so a handheld scanner (keyboard wedge) can send the next code straight away.
// (A static file because the Content-Security-Policy allows no inline script or hx-on handlers.)
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt.closest("form[data-scan-form]");
  if (!form) return;
  form.reset();
  form.querySelector("[data-scan-input]")?.focus();
});

// Forms that throw work away (discarding a draft receipt) ask first, with the question in data-confirm.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
