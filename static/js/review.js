// Lab review queue: "select all" for the bulk accept form. The form works without it.
(function () {
  "use strict";

  function boxes(form) {
    return Array.prototype.slice.call(
      form.querySelectorAll('input[name="annotations"]:not(:disabled)')
    );
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.form;
    if (!form) return;
    if (target.id === "select-all") {
      boxes(form).forEach(function (box) {
        box.checked = target.checked;
      });
      return;
    }
    if (target.name === "annotations") {
      var all = form.querySelector("#select-all");
      if (!all) return;
      var list = boxes(form);
      var checked = list.filter(function (box) { return box.checked; }).length;
      all.checked = list.length > 0 && checked === list.length;
      all.indeterminate = checked > 0 && checked < list.length;
    }
  });
})();
