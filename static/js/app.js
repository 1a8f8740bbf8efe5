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

  // The reference image is checked before it is sent: type (by its first bytes, not
  // its name) and size, with the error next to the field; the form is never lost.
  var SIGNATURES = [[0x89, 0x50, 0x4e, 0x47], [0xff, 0xd8, 0xff], [0x52, 0x49, 0x46, 0x46]];
  function preview(input) {
    var img = document.getElementById(input.dataset.preview);
    var max = parseInt(input.dataset.maxBytes || "0", 10);
    var note = document.getElementById(input.id + "-client-error");
    function say(text) {
      note.textContent = text; note.hidden = !text;
      if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      img.hidden = true; say("");
      if (!file) return;
      if (max && file.size > max) {
        say("This image is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + Math.round(max / 1048576) + " MB. Choose a smaller one.");
        input.value = ""; return;
      }
      file.slice(0, 12).arrayBuffer().then(function (buf) {
        var b = new Uint8Array(buf);
        var ok = SIGNATURES.some(function (sig) { return sig.every(function (x, i) { return b[i] === x; }); });
        if (ok && b[0] === 0x52 && !(b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50)) ok = false;
        if (!ok) { say("This file is not a PNG, JPEG or WebP image."); input.value = ""; return; }
        img.src = URL.createObjectURL(file);
        img.hidden = false;
      });
    });
    // A refused image is not silently dropped: the first Generate while the refusal
    // shows stops and says what the next one does.
    if (input.form) input.form.addEventListener("submit", function (e) {
      if (note.hidden || note.dataset.warned) return;
      e.preventDefault();
      note.dataset.warned = "1";
      note.textContent += " Or press Generate again to go on without a reference image.";
      input.focus();
    });
    input.addEventListener("change", function () { delete note.dataset.warned; });
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
    var aspect = form.querySelector("#aspect_ratio");
    function shapeOf(s) {  // "" for a size that is not WIDTHxHEIGHT ("720p")
      var m = /^(\d+)x(\d+)$/.exec(s), w = m && +m[1], h = m && +m[2];
      return !m ? "" : (w === h ? "1:1" : (w > h ? "16:9" : "9:16"));
    }
    function sizes(o) {
      var all = split(o.dataset.sizes), want = aspect && aspect.value;
      return want ? all.filter(function (s) { return shapeOf(s) === want; }) : all;
    }
    function refresh() {
      var o = opt(); if (!o) return;
      if (aspect) {  // only the shapes this model makes (the server's list; none: any)
        var shapes = split(o.dataset.shapes);
        Array.prototype.forEach.call(aspect.options, function (a) {
          a.disabled = Boolean(a.value) && shapes.length > 0 && shapes.indexOf(a.value) < 0;
        });
        if (aspect.selectedIndex >= 0 && aspect.options[aspect.selectedIndex].disabled) aspect.value = "";
      }
      var def = o.dataset.size && (!aspect || !aspect.value || shapeOf(o.dataset.size) === aspect.value) ? o.dataset.size : "";
      fill(size, sizes(o), null, "", def ? "Default (" + def + ")" : "From aspect ratio");
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
      var money = function (x) { return (form.dataset.money || "$0.00").replace("0.00", x.toFixed(2)); };
      if (price > 0 && secs > 0) {
        var what = o.dataset.media === "IMAGE" ? "per image" : secs + " s × " + money(price) + "/s";
        estimate.textContent = "Estimated cost: " + money(price * secs * n) + " (" + what + (n > 1 ? " × " + n : "") + ")";
      } else {
        estimate.textContent = "";
      }
    }
    model.addEventListener("change", function () { size.dataset.value = ""; seconds.dataset.value = ""; refresh(); });
    if (aspect) aspect.addEventListener("change", function () { size.dataset.value = size.value; refresh(); });
    form.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    seconds.addEventListener("change", cost);
    form.addEventListener("input", function (e) { if (e.target.name === "n") cost(); });
    refresh();
  }

  function submitOnce(form) {
    // The server already makes a double submit harmless (one-time key); this just says so.
    form.addEventListener("submit", function (e) {
      if (e.defaultPrevented) return;  // stopped by a check above: the form stays usable
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

  // Gallery hover: play a video's sprite sheet frame by frame. Providers do not document
  // their sheet's layout, so the grid is inferred: every frame has the video's aspect
  // ratio, so columns / rows = (sheet width / height) / aspect, and the smallest such grid
  // with at least 8 frames is taken (the simulator's 4 x 2; a one-row strip of 10).
  function spriteGrid(width, height, aspect) {
    var ratio = (width / height) / aspect, fallback = null;
    for (var rows = 1; rows <= 12; rows++) {
      var cols = Math.round(ratio * rows);
      if (cols < 1 || Math.abs(cols / rows - ratio) > 0.05 * ratio) continue;
      fallback = fallback || [cols, rows];
      if (cols * rows >= 8) return [cols, rows];
    }
    return fallback || [1, 1];
  }

  function sprite(el) {
    var link = el.closest("a") || el, timer = null, grid = null, frame = 0;
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    function show() {
      var cols = grid[0], rows = grid[1], c = frame % cols, r = Math.floor(frame / cols) % rows;
      el.style.backgroundPosition = (cols > 1 ? (c * 100) / (cols - 1) : 0) + "% " +
        (rows > 1 ? (r * 100) / (rows - 1) : 0) + "%";
    }
    function play() {
      el.classList.add("playing");
      if (timer || still || !grid) return;
      timer = window.setInterval(function () { frame = (frame + 1) % (grid[0] * grid[1]); show(); }, 250);
    }
    function start() {
      if (grid) return play();
      var img = new Image();
      img.onload = function () {
        grid = spriteGrid(img.naturalWidth, img.naturalHeight, parseFloat(el.dataset.aspect) || 16 / 9);
        el.dataset.grid = grid[0] + "x" + grid[1];
        el.style.backgroundImage = "url(\"" + el.dataset.sprite + "\")";
        el.style.backgroundSize = grid[0] * 100 + "% " + grid[1] * 100 + "%";
        show();
        if (link.matches(":hover") || link.matches(":focus")) play();
      };
      img.src = el.dataset.sprite;
    }
    function stop() {
      el.classList.remove("playing");
      if (timer) window.clearInterval(timer);
      timer = null; frame = 0;
      if (grid) show();
    }
    link.addEventListener("mouseenter", start);
    link.addEventListener("focus", start);
    link.addEventListener("mouseleave", stop);
    link.addEventListener("blur", stop);
  }

  // Running tasks' elapsed times tick here, once a second: the polled fragment is
  // often the browser's kept copy (the server answered 304, nothing changed), so the
  // server cannot count the seconds in it. The page says the server's time when it
  // was made, so a wrong clock on this computer does not show in the count.
  function duration(seconds) {  // the same text as the server's "duration" filter
    var s = Math.round(seconds), two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + two(s % 60) + "s";
    return Math.floor(m / 60) + "h " + two(m % 60) + "m";
  }
  function elapsedClock(page) {
    var skew = Number(page.dataset.serverNow) * 1000 - Date.now();
    // A page shown again from the browser's cache (Back) carries the time it was first
    // made: each poll's Date header (updated by a 304 too) sets that right. It counts
    // whole seconds, so it only overrides the page's own figure when that is plainly off.
    document.addEventListener("htmx:afterRequest", function (e) {
      var xhr = e.detail && e.detail.xhr, said = xhr && Date.parse(xhr.getResponseHeader("Date"));
      if (said && Math.abs(said + 500 - Date.now() - skew) > 1500) skew = said + 500 - Date.now();
    });
    function tick() {
      var now = (Date.now() + skew) / 1000;
      page.querySelectorAll("time[data-since]").forEach(function (el) {
        var text = duration(Math.max(0, now - Number(el.dataset.since)));
        if (el.textContent !== text) el.textContent = text;
      });
    }
    window.setInterval(tick, 1000);
    // A swapped-in fragment (a kept copy, above all) says what the time was when it
    // was made: right it before the browser paints it.
    document.addEventListener("htmx:afterSwap", tick);
  }

  function init(root) {
    root.querySelectorAll("[data-sprite]").forEach(sprite);
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

  // Filter forms leave empty fields out of the URL (htmx requests and plain submits).
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-drop-empty]");
    if (!form) return;
    var data = e.detail.formData, params = e.detail.parameters, empty = [];
    if (data && data.forEach) {
      data.forEach(function (v, k) { if (v === "") empty.push(k); });
      empty.forEach(function (k) { data.delete(k); });
    } else if (params) {
      Object.keys(params).forEach(function (k) { if (params[k] === "") delete params[k]; });
    }
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.matches || !f.matches("form[data-drop-empty]")) return;
    var off = [];
    f.querySelectorAll("input[name], select[name]").forEach(function (el) {
      if (el.value === "" && !el.disabled) { el.disabled = true; off.push(el); }
    });
    window.setTimeout(function () { off.forEach(function (el) { el.disabled = false; }); }, 0);
  });

  // The theme toggle: light <-> dark, remembered in this browser (theme.js applies it).
  function themeToggle(button) {
    function dark() {
      var t = document.documentElement.dataset.theme;
      return t ? t === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    }
    function show() { button.setAttribute("aria-pressed", dark() ? "true" : "false"); }
    button.addEventListener("click", function () {
      var next = dark() ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { window.localStorage.setItem("reelay-theme", next); } catch (e) { /* not remembered */ }
      show();
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    document.querySelectorAll("[data-theme-toggle]").forEach(themeToggle);
    document.querySelectorAll("[data-server-now]").forEach(elapsedClock);
  });
  document.addEventListener("htmx:historyRestore", syncFilters);
  window.addEventListener("popstate", function () { window.setTimeout(syncFilters, 0); });
})();
