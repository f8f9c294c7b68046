// Receipt and report pages: P prints, Enter goes on to the next sale.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select")) return;
    if (event.key === "p" || event.key === "P") window.print();
    const next = document.getElementById("next-sale");
    if (event.key === "Enter" && next) window.location.assign(next.href);
  });
})();
