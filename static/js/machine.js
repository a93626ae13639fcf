// The home page's machine, remembered in this browser (localStorage, never a cookie: the pages
// are shared by every visitor and must not vary by one). A page showing a machine stores its
// query; the home page opened without one offers the stored machine as a plain link. "Detect
// this device" selects the GPU the browser names (WebGPU's adapter info), when it names one in
// the list. Without JavaScript the picker is a plain GET form.
(function () {
  var KEY = "modelfit.machine";
  var SAFE = /^[A-Za-z0-9_.%+=&-]*$/;
  var MACHINE = ["gpu", "gpu_count", "ram", "ram_type", "ram_gbps", "reserved", "wired", "runs", "page"];

  function read() {
    try {
      var saved = JSON.parse(localStorage.getItem(KEY) || "null");
      if (saved && typeof saved.query === "string" && saved.query && SAFE.test(saved.query)) {
        return saved;
      }
    } catch (e) {}
    return null;
  }

  function write(value) {
    try {
      if (value) localStorage.setItem(KEY, JSON.stringify(value));
      else localStorage.removeItem(KEY);
    } catch (e) {}
  }

  function sync() {
    var form = document.getElementById("machine");
    var offer = document.getElementById("machine-offer");
    if (!form || !offer) return;
    var query = form.dataset.machineQuery || "";
    var params = new URLSearchParams(window.location.search);
    if (query) {
      write({ query: query, label: form.dataset.machineLabel || "" });
      offer.hidden = true;
      return;
    }
    var saved = read();
    if (!saved) return;
    MACHINE.forEach(function (name) { params.delete(name); });
    var rest = params.toString();
    offer.querySelector(".machine-offer-label").textContent = saved.label || saved.query;
    offer.querySelector(".machine-offer-use").href = "?" + saved.query + (rest ? "&" + rest : "");
    offer.hidden = false;
  }

  function normalise(text) {
    return text.toLowerCase().replace(/nvidia|geforce|amd|radeon|\(r\)|\(tm\)/g, "").replace(/[^a-z0-9]+/g, " ").trim();
  }

  function detect(button) {
    var status = document.querySelector(".machine-detected");
    var select = document.getElementById("id_gpu");
    navigator.gpu.requestAdapter().then(function (adapter) {
      var info = adapter && adapter.info;
      if (!info) {
        status.textContent = "This browser does not say which GPU it has.";
        return;
      }
      var named = normalise([info.description, info.device].join(" "));
      var found = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var name = normalise(option.text);
        if (option.value && option.value !== "cpu" && name && named.indexOf(name) !== -1) {
          if (!found || name.length > normalise(found.text).length) found = option;
        }
      });
      if (found) {
        select.value = found.value;
        status.textContent = "Your browser reports a " + found.text + ".";
        select.dispatchEvent(new Event("change", { bubbles: true }));
      } else {
        var said = [info.vendor, info.architecture].filter(Boolean).join(" ");
        status.textContent = said
          ? "Your browser reports " + said + " but not the model: choose it from the list."
          : "This browser does not say which GPU it has.";
      }
    }, function () {
      status.textContent = "This browser does not say which GPU it has.";
    });
    button.disabled = true;
  }

  function bind() {
    sync();
    var button = document.querySelector(".machine-detect");
    if (button && navigator.gpu) button.hidden = false;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest(".machine-forget")) {
      write(null);
      document.getElementById("machine-offer").hidden = true;
    } else if (target.closest(".machine-detect")) {
      detect(target.closest(".machine-detect"));
    }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.id === "id_gpu" && !target.value) {
      write(null); // "None chosen" picked on purpose: forget the machine
    }
  });
  document.addEventListener("DOMContentLoaded", bind);
  document.addEventListener("htmx:afterSettle", bind);
})();
