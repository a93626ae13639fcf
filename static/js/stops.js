// Sliders over sensible stops (context length, users). The number input beside each slider
// holds the value the form submits and works alone without JavaScript; the range input, hidden
// until this script runs, moves over the stops and types the stop into the number input.
// After each swap the form's values are written into its markup, so the copy htmx keeps for
// the back button (made from markup, before the next swap) has the controls of its panels.
// Blank fields of the model page's form are left out of its requests (they mean the default).
(function () {
  function nearest(stops, value) {
    var best = 0;
    stops.forEach(function (stop, i) {
      if (Math.abs(Math.log(stop / value)) < Math.abs(Math.log(stops[best] / value))) best = i;
    });
    return best;
  }

  function bind(root) {
    root.querySelectorAll("input[type=range][data-stops]").forEach(function (range) {
      if (range.dataset.bound) return;
      var box = document.getElementById(range.dataset.for);
      if (!box) return;
      var stops = range.dataset.stops.split(",").map(Number);
      range.dataset.bound = "1";
      range.hidden = false;
      range.value = nearest(stops, Number(box.value) || stops[0]);
      range.addEventListener("input", function () {
        box.value = stops[Number(range.value)];
        box.dispatchEvent(new Event("input", { bubbles: true }));
      });
      box.addEventListener("input", function () {
        if (Number(box.value) > 0) range.value = nearest(stops, Number(box.value));
      });
    });
  }

  function freeze(root) {
    root.querySelectorAll("form input").forEach(function (input) {
      if (input.type !== "hidden") input.setAttribute("value", input.value);
    });
    root.querySelectorAll("form select option").forEach(function (option) {
      option.toggleAttribute("selected", option.selected);
    });
  }

  // A blank box of the model page's form (the machine's fields) means its default: leave it
  // out of the request, so the URL htmx pushes holds only what was set.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.closest("form#controls")) return;
    var data = event.detail.formData;
    var blank = [];
    data.forEach(function (value, name) { if (value === "") blank.push(name); });
    blank.forEach(function (name) { data.delete(name); });
  });

  document.addEventListener("DOMContentLoaded", function () {
    bind(document);
    freeze(document);
  });
  document.addEventListener("htmx:afterSettle", function () {
    bind(document);
    freeze(document);
  });
  document.addEventListener("htmx:historyRestore", function () {
    // The restored markup is new: its sliders carry the flag but not the listeners.
    document.querySelectorAll("input[data-bound]").forEach(function (range) {
      delete range.dataset.bound;
    });
    bind(document);
  });
})();
