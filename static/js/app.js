// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  function counter(textarea) {
    var out = document.getElementById(textarea.dataset.counter);
    if (!out) return;
    var update = function () {
      out.textContent = textarea.value.length.toLocaleString("en") + " / 32,000";
    };
    textarea.addEventListener("input", update);
    update();
  }

  function preview(input) {
    var img = document.getElementById(input.dataset.preview);
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) { img.hidden = true; return; }
      img.src = URL.createObjectURL(file);
      img.hidden = false;
    });
  }

  function fill(select, values, chosen, suffix, emptyLabel) {
    var current = chosen || select.dataset.value || "";
    select.innerHTML = "";
    var empty = document.createElement("option");
    empty.value = ""; empty.textContent = emptyLabel;
    select.appendChild(empty);
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v; o.textContent = v + (suffix || "");
      if (String(v) === String(current)) o.selected = true;
      select.appendChild(o);
    });
  }

  function modelForm(form) {
    var model = form.querySelector("#model");
    var size = form.querySelector("#size");
    var seconds = form.querySelector("#seconds");
    var estimate = form.querySelector("#estimate");
    var imageBox = form.querySelector("[data-image-input]");
    var optionsBox = form.querySelector("[data-options-box]");
    function opt() { return model.options[model.selectedIndex]; }
    function split(s) { return s ? s.split(",").filter(Boolean) : []; }
    function refresh() {
      var o = opt(); if (!o) return;
      fill(size, split(o.dataset.sizes), null, "", "Default" + (o.dataset.size ? " (" + o.dataset.size + ")" : ""));
      fill(seconds, split(o.dataset.seconds), null, " s", "Default" + (o.dataset.second ? " (" + o.dataset.second + " s)" : ""));
      var video = o.dataset.media !== "IMAGE";
      form.querySelectorAll("[data-video-only]").forEach(function (el) { el.hidden = !video; });
      imageBox.hidden = o.dataset.image !== "yes";
      var need = imageBox.querySelector("[data-image-need]");
      if (need) need.textContent = o.dataset.requiresImage === "yes" ? "required for this model" : "optional";
      var allowed = split(o.dataset.options), any = false;
      optionsBox.querySelectorAll("[data-option]").forEach(function (el) {
        var on = allowed.indexOf(el.dataset.option) >= 0; el.hidden = !on; any = any || on;
      });
      optionsBox.hidden = !any;
      cost();
    }
    function cost() {
      var o = opt(); if (!o) return;
      var price = parseFloat(o.dataset.price || "0");
      var secs = o.dataset.media === "IMAGE" ? 1 : parseInt(seconds.value || o.dataset.second || "0", 10);
      var n = parseInt((form.querySelector("input[name=n]") || {}).value || "1", 10) || 1;
      if (price > 0 && secs > 0) {
        var what = o.dataset.media === "IMAGE" ? "per image" : secs + " s × $" + price.toFixed(2) + "/s";
        estimate.textContent = "Estimated cost: $" + (price * secs * n).toFixed(2) + " (" + what + (n > 1 ? " × " + n : "") + ")";
      } else {
        estimate.textContent = "";
      }
    }
    model.addEventListener("change", function () { size.dataset.value = ""; seconds.dataset.value = ""; refresh(); });
    seconds.addEventListener("change", cost);
    form.addEventListener("input", function (e) { if (e.target.name === "n") cost(); });
    refresh();
  }

  function submitOnce(form) {
    // The server already makes a double submit harmless (one-time key); this just says so.
    form.addEventListener("submit", function () {
      var b = form.querySelector("button[type=submit]");
      if (b) { setTimeout(function () { b.disabled = true; b.setAttribute("aria-busy", "true"); b.textContent = "Submitting…"; }, 0); }
    });
  }

  function copyButton(button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }

  // Back/Forward restore the list from htmx's history cache, but form controls keep the
  // state they had when the snapshot was taken: set the filters from the address again.
  function syncFilters() {
    var form = document.querySelector("form.filters");
    if (!form) return;
    var params = new URLSearchParams(window.location.search);
    form.querySelectorAll("input[name]:not([type=hidden]), select[name]").forEach(function (el) {
      var fallback = el.name === "sort" ? "created" : "";
      el.value = params.get(el.name) || fallback;
    });
  }

  function init(root) {
    root.querySelectorAll("[data-copy]").forEach(copyButton);
    root.querySelectorAll("[data-replace-url]").forEach(function (el) {
      window.history.replaceState(null, "", el.dataset.replaceUrl);
    });
    root.querySelectorAll("textarea[data-counter]").forEach(counter);
    root.querySelectorAll("input[data-preview]").forEach(preview);
    root.querySelectorAll("form#new-task").forEach(modelForm);
    root.querySelectorAll("form[data-submit-once]").forEach(submitOnce);
  }

  // Confirmations: the question is a data-confirm attribute (HTML-escaped text, never
  // code), on a button (asked on click) or a form (asked on submit).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-confirm], input[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) { e.preventDefault(); e.stopPropagation(); }
  }, true);
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.matches && f.matches("form[data-confirm]") && !window.confirm(f.dataset.confirm)) {
      e.preventDefault(); e.stopPropagation();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:historyRestore", syncFilters);
  window.addEventListener("popstate", function () { window.setTimeout(syncFilters, 0); });
})();
