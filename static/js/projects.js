// Lab project pages: small conveniences on top of htmx. Nothing here is needed to submit a form.
(function () {
  "use strict";

  // "Use it" next to the suggested price copies it into the price field.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill-price]");
    if (!button) return;
    var input = document.getElementById("id_price");
    if (!input || input.disabled) return;
    input.value = button.getAttribute("data-fill-price");
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  });
})();
