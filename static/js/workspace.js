// The expert's annotation workspace (templates/projects/workspace/). The page works without
// this script (plain form posts); the script adds autosave with the lease heartbeat, the page
// signals the lab sees (active time, pastes, focus losses), keyboard shortcuts, and the swap
// to the prefetched next task without a page load (leased on the first sign of work, not on
// load), and turns the confidence number input into a slider. On the history edit page it
// only counts the signals and sends them with the form. Data comes from data-* attributes only:
// the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  var AUTOSAVE_MS = 5000;
  var HEARTBEAT_MS = 60000;
  var IDLE_AFTER_MS = 60000;
  var SIGNAL_KEYS = ["active_seconds", "pastes", "pasted_chars", "focus_losses"];
  var TEXT_TYPES = ["text", "search", "email", "url", "tel", "number", "password", ""];

  // POST a form body and read the JSON answer as {ok, status, body}.
  function postForm(url, data) {
    return fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  // Confidence: the server renders a plain number input (what a submit without this script
  // sends, empty until the expert types a value); the script turns it into a slider with a
  // live value and a "not set" state, since a slider always holds some value.

  function syncConfidence(slider) {
    var output = document.getElementById(slider.id + "-value");
    if (output) output.textContent = slider.hasAttribute("data-unset") ? "not set" : slider.value;
  }

  function enhanceConfidence(scope) {
    scope.querySelectorAll("input[data-confidence]").forEach(function (input) {
      if (input.type === "range" || input.matches(":disabled")) return;
      var empty = input.value === "";
      input.type = "range";
      if (empty) input.setAttribute("data-unset", "");
      var output = document.createElement("output");
      output.id = input.id + "-value";
      output.className = "confidence-value";
      output.setAttribute("for", input.id);
      output.setAttribute("aria-live", "polite");
      output.setAttribute("data-confidence-value", "");
      input.parentNode.insertBefore(output, input.nextSibling);
      syncConfidence(input);
    });
  }

  function unsetConfidence(form) {
    var slider = form.querySelector("input[data-confidence][data-unset]");
    return slider && slider.type === "range" ? slider : null;
  }

  document.addEventListener("input", function (event) {
    var slider = event.target.closest && event.target.closest("[data-confidence]");
    if (!slider) return;
    slider.removeAttribute("data-unset");
    syncConfidence(slider);
  });

  // Helpers ----------------------------------------------------------------------------

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function clock(date, seconds) {
    var text = pad(date.getHours()) + ":" + pad(date.getMinutes());
    return seconds ? text + ":" + pad(date.getSeconds()) : text;
  }

  function isTextField(element) {
    if (!element || !element.tagName) return false;
    var tag = element.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || element.isContentEditable) return true;
    if (tag !== "input") return false;
    return TEXT_TYPES.indexOf((element.getAttribute("type") || "").toLowerCase()) !== -1;
  }

  function whenIdle(callback) {
    if (window.requestIdleCallback) window.requestIdleCallback(callback, { timeout: 3000 });
    else window.setTimeout(callback, 0);
  }

  // One workspace (the page, or a fragment swapped in after a submit) --------------------

  var current = null;
  var prefetched = null; // {html, url} of the next task, or {none: true} when nothing is left

  function Workspace(root) {
    this.root = root;
    this.form = root.querySelector("[data-answer-form]");
    this.skipPanel = root.querySelector("[data-skip-panel]");
    this.skipForm = root.querySelector("[data-skip-form]");
    this.status = root.querySelector("[data-save-status]");
    this.leaseTime = root.querySelector("[data-lease-expires]");
    this.leaseLost = root.querySelector("[data-lease-lost]");
    this.formError = root.querySelector("[data-form-error]");
    this.submitButton = root.querySelector("[data-submit]");
    this.shortcuts = root.querySelector("[data-shortcuts]");
    this.url = {
      page: root.getAttribute("data-page-url"),
      draft: root.getAttribute("data-draft-url"),
      submit: root.getAttribute("data-submit-url"),
      prefetch: root.getAttribute("data-prefetch-url"),
      start: root.getAttribute("data-start-url"),
      history: root.getAttribute("data-history-url"),
    };
    this.taskType = root.getAttribute("data-task-type");
    this.leaseMs = (parseInt(root.getAttribute("data-lease-minutes"), 10) || 30) * 60000;
    if (!this.form) return;
    // Deltas not yet sent to the server.
    this.signals = { active_seconds: 0, pastes: 0, pasted_chars: 0, focus_losses: 0 };
    this.lastActivity = Date.now();
    this.away = !document.hasFocus() || document.visibilityState === "hidden";
    this.dirty = false;
    this.working = false;
    this.saving = false;
    this.sending = false;
    this.done = false;
    this.timers = [];
    this.listeners = [];
    this.lastSaved = this.serialize();
    this.start();
  }

  Workspace.prototype.listen = function (target, type, handler, options) {
    var bound = handler.bind(this);
    target.addEventListener(type, bound, options);
    this.listeners.push([target, type, bound, options]);
  };

  Workspace.prototype.every = function (ms, handler) {
    this.timers.push(window.setInterval(handler.bind(this), ms));
  };

  Workspace.prototype.start = function () {
    var self = this;
    this.showExpiry(this.root.getAttribute("data-expires-at"));
    this.syncDisclosure();
    enhanceConfidence(this.root);
    var savedAt = this.status && this.status.getAttribute("data-saved-at");
    if (savedAt) this.showSaved({ saved_at: savedAt });

    ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "input", "touchstart"].forEach(
      function (type) {
        self.listen(document, type, self.noteActivity, { passive: true, capture: true });
      }
    );
    this.listen(this.form, "input", this.markDirty);
    this.listen(this.form, "change", this.markDirty);
    this.listen(this.form, "paste", this.countPaste);
    this.listen(this.form, "submit", this.submit);
    if (this.skipForm) this.listen(this.skipForm, "submit", this.skip);
    this.listen(window, "blur", this.leave);
    this.listen(window, "focus", this.comeBack);
    this.listen(document, "visibilitychange", this.visibilityChanged);
    this.listen(window, "pagehide", this.saveOnLeaving);

    this.every(1000, this.tick);
    this.every(AUTOSAVE_MS, function () {
      if (this.dirty) this.save(false);
    });
    this.every(HEARTBEAT_MS, function () {
      this.save(true);
    });
    // The next task is leased on the first sign of work on this one, not on load: an
    // expert who only glances at a task does not hold two.
    ["input", "change", "keydown", "pointerdown"].forEach(function (type) {
      self.listen(self.form, type, self.startWorking);
    });
  };

  Workspace.prototype.startWorking = function () {
    if (this.working) return;
    this.working = true;
    if (current === this) this.prefetch();
  };

  Workspace.prototype.stop = function () {
    this.done = true;
    this.timers.forEach(window.clearInterval);
    this.listeners.forEach(function (entry) {
      entry[0].removeEventListener(entry[1], entry[2], entry[3]);
    });
    this.timers = [];
    this.listeners = [];
  };

  // Signals ----------------------------------------------------------------------------

  Workspace.prototype.noteActivity = function () {
    this.lastActivity = Date.now();
  };

  // Active time: the page is visible and the expert did something in the last minute.
  Workspace.prototype.tick = function () {
    if (document.visibilityState !== "visible") return;
    if (Date.now() - this.lastActivity > IDLE_AFTER_MS) return;
    this.signals.active_seconds += 1;
  };

  Workspace.prototype.countPaste = function (event) {
    if (!isTextField(event.target)) return;
    var text = event.clipboardData ? event.clipboardData.getData("text") : "";
    this.signals.pastes += 1;
    this.signals.pasted_chars += text.length;
  };

  Workspace.prototype.leave = function () {
    if (this.away) return;
    this.away = true;
    this.signals.focus_losses += 1;
  };

  Workspace.prototype.comeBack = function () {
    this.away = false;
    this.noteActivity();
  };

  Workspace.prototype.visibilityChanged = function () {
    if (document.visibilityState === "hidden") {
      this.leave();
      this.saveOnLeaving();
    } else {
      this.comeBack();
    }
  };

  // Drafts and the lease ---------------------------------------------------------------

  Workspace.prototype.confidenceUnset = function () {
    return unsetConfidence(this.form);
  };

  // The form as sent, without the slider the expert has not touched (it would read 50).
  Workspace.prototype.formData = function () {
    var data = new FormData(this.form);
    var slider = this.confidenceUnset();
    if (slider) data.delete(slider.name);
    return data;
  };

  Workspace.prototype.serialize = function () {
    var parts = [];
    this.formData().forEach(function (value, key) {
      if (key !== "csrfmiddlewaretoken") parts.push(key + "=" + value);
    });
    return parts.join("&");
  };

  Workspace.prototype.markDirty = function () {
    this.dirty = this.serialize() !== this.lastSaved;
    if (this.dirty && this.status) this.status.textContent = "Unsaved changes";
    this.syncDisclosure();
    this.clearFieldErrors();
  };

  Workspace.prototype.withSignals = function (data) {
    var sent = {};
    SIGNAL_KEYS.forEach(function (key) {
      sent[key] = this.signals[key];
      data.append(key, String(this.signals[key]));
    }, this);
    return sent;
  };

  Workspace.prototype.forget = function (sent) {
    SIGNAL_KEYS.forEach(function (key) {
      this.signals[key] = Math.max(0, this.signals[key] - sent[key]);
    }, this);
  };

  // Save the draft (or, for a heartbeat with nothing new, only the signals and the lease).
  Workspace.prototype.save = function (heartbeat) {
    if (this.done || this.saving || this.sending) return Promise.resolve();
    var self = this;
    var snapshot = this.serialize();
    var changed = snapshot !== this.lastSaved;
    var data;
    if (changed || !heartbeat) {
      data = this.formData();
    } else {
      data = new FormData();
      data.append("csrfmiddlewaretoken", this.csrf());
    }
    var sent = this.withSignals(data);
    this.saving = true;
    return postForm(this.url.draft, data)
      .then(function (reply) {
        self.saving = false;
        if (!reply.ok) {
          if (reply.status === 409) self.showError(reply.body.message);
          return;
        }
        self.forget(sent);
        self.lastSaved = snapshot;
        self.dirty = self.serialize() !== snapshot;
        self.showSaved(reply.body);
      })
      .catch(function () {
        self.saving = false;
        if (self.status) self.status.textContent = "Not saved: offline? Retrying…";
      });
  };

  // Leaving the page: the browser may not wait for a fetch, so send a beacon.
  Workspace.prototype.saveOnLeaving = function () {
    if (this.done || !navigator.sendBeacon) return;
    var changed = this.serialize() !== this.lastSaved;
    var data = changed ? this.formData() : new FormData();
    if (!changed) data.append("csrfmiddlewaretoken", this.csrf());
    var sent = this.withSignals(data);
    if (navigator.sendBeacon(this.url.draft, data)) {
      this.forget(sent);
      if (changed) this.lastSaved = this.serialize();
      this.dirty = false;
    }
  };

  Workspace.prototype.csrf = function () {
    var field = this.form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  };

  Workspace.prototype.showSaved = function (body) {
    if (body.saved_at && this.status) {
      this.status.textContent = "Saved " + clock(new Date(body.saved_at), true);
    }
    if (body.expires_at) this.showExpiry(body.expires_at);
    if (typeof body.still_needed !== "boolean") return;
    if (this.leaseLost) this.leaseLost.hidden = body.still_needed;
    if (this.submitButton) this.submitButton.disabled = !body.still_needed;
  };

  Workspace.prototype.showExpiry = function (iso) {
    if (!this.leaseTime || !iso) return;
    var date = new Date(iso);
    if (isNaN(date.getTime())) return;
    this.leaseTime.setAttribute("datetime", iso);
    this.leaseTime.textContent = clock(date, false);
  };

  // Errors -----------------------------------------------------------------------------

  Workspace.prototype.clearFieldErrors = function () {
    this.root.querySelectorAll("[data-field-error]").forEach(function (node) {
      node.remove();
    });
    this.root.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
    });
  };

  Workspace.prototype.showError = function (message, link) {
    if (!this.formError) return;
    this.formError.textContent = "";
    var box = document.createElement("p");
    box.className = "message error";
    box.textContent = message + " ";
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.text;
      box.appendChild(anchor);
    }
    this.formError.appendChild(box);
  };

  // The message next to the field it names ("rationale", "criteria.Accuracy", "errors.1.quote").
  Workspace.prototype.showFieldError = function (field, message) {
    this.clearFieldErrors();
    var target = null;
    var candidates = this.root.querySelectorAll("[name]");
    for (var i = 0; i < candidates.length && field; i += 1) {
      var name = candidates[i].getAttribute("name");
      if (name === field || (name.indexOf(field + ".") === 0) || field.indexOf(name + ".") === 0) {
        target = candidates[i];
        break;
      }
    }
    if (!target) {
      this.showError(message);
      return;
    }
    var note = document.createElement("p");
    note.className = "errorlist field-error";
    note.setAttribute("data-field-error", "");
    note.setAttribute("role", "alert");
    note.id = "field-error-" + Date.now();
    note.textContent = message;
    var holder = target.closest("fieldset") || target.parentNode;
    holder.appendChild(note);
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", note.id);
    if (this.formError) this.formError.textContent = "";
    target.focus();
  };

  // Submitting -------------------------------------------------------------------------

  Workspace.prototype.submit = function (event) {
    event.preventDefault();
    if (this.sending || this.done) return;
    var slider = this.confidenceUnset();
    if (slider) {
      this.showFieldError("confidence", "Set your confidence first (press C, then the arrow keys).");
      return;
    }
    var self = this;
    var data = this.formData();
    var sent = this.withSignals(data);
    this.sending = true;
    this.submitButton.disabled = true;
    this.submitButton.setAttribute("aria-busy", "true");
    postForm(this.url.submit, data)
      .then(function (reply) {
        self.sending = false;
        self.submitButton.removeAttribute("aria-busy");
        if (reply.ok) {
          self.forget(sent);
          self.next(reply.body.next_url);
          return;
        }
        self.submitButton.disabled = false;
        if (reply.status === 400) {
          self.showFieldError(reply.body.field, reply.body.message);
        } else if (reply.status === 409) {
          self.forget(sent);
          self.refused(reply.body);
        } else {
          self.showError("Something went wrong; your answer is still here. Try again.");
        }
      })
      .catch(function () {
        self.sending = false;
        self.submitButton.disabled = false;
        self.submitButton.removeAttribute("aria-busy");
        self.showError("Could not reach the server; your answer is still here. Try again.");
      });
  };

  // A submit the server refused (409), by the reason's code.
  Workspace.prototype.refused = function (body) {
    var code = body.code || "not_available";
    if (code === "guidelines") {
      this.stop();
      window.location.assign(body.guidelines_url || this.url.start);
      return;
    }
    if (code === "too_late") {
      this.showError(body.message, {
        href: body.history_url || this.url.history,
        text: "See your history",
      });
      if (this.leaseLost) this.leaseLost.hidden = false;
      this.submitButton.disabled = true;
      return;
    }
    if (code === "skipped") {
      this.showError(body.message, { href: this.url.start, text: "Go to your next task" });
      this.submitButton.disabled = true;
      return;
    }
    this.showError(body.message);
  };

  Workspace.prototype.skip = function (event) {
    event.preventDefault();
    if (this.sending || this.done) return;
    var self = this;
    var error = this.root.querySelector("[data-skip-error]");
    var data = new FormData(this.skipForm);
    this.sending = true;
    postForm(this.skipForm.action, data)
      .then(function (reply) {
        self.sending = false;
        if (reply.ok) {
          self.next(reply.body.next_url);
        } else if (error) {
          error.textContent = reply.body.message;
        }
      })
      .catch(function () {
        self.sending = false;
        if (error) error.textContent = "Could not reach the server. Try again.";
      });
  };

  // The next task: the prefetched fragment at once, else a page load.
  Workspace.prototype.next = function (nextUrl) {
    this.stop();
    // A prefetched lease nobody renewed for half its length may be gone: ask the server.
    var fresh = prefetched && Date.now() - prefetched.at < this.leaseMs / 2;
    if (fresh && prefetched.html) {
      var frame = this.root.parentNode;
      var ready = prefetched;
      prefetched = null;
      frame.innerHTML = ready.html;
      var root = frame.querySelector("[data-workspace]");
      if (root) {
        window.history.pushState({ workspace: ready.url }, "", ready.url);
        document.title = root.getAttribute("data-title") || document.title;
        window.scrollTo(0, 0);
        // The prefetched lease is renewed by the first autosave or heartbeat with work in it.
        current = new Workspace(root);
        current.focusFirstQuestion();
        return;
      }
    }
    window.location.assign(nextUrl || this.url.start);
  };

  Workspace.prototype.prefetch = function () {
    if (prefetched || this.done || !this.url.prefetch) return;
    whenIdle(function () {
      fetch(this.url.prefetch, {
        credentials: "same-origin",
        headers: { Accept: "text/html", "X-Workspace-Prefetch": "1" },
      })
        .then(function (response) {
          if (response.status === 204) {
            prefetched = { none: true };
            return null;
          }
          if (!response.ok) return null;
          var url = response.headers.get("X-Workspace-Url");
          return response.text().then(function (html) {
            if (url) prefetched = { html: html, url: url, at: Date.now() };
          });
        })
        .catch(function () {
          prefetched = null;
        });
    }.bind(this));
  };

  // Keyboard ---------------------------------------------------------------------------

  Workspace.prototype.firstQuestion = function () {
    return this.form.querySelector(
      "input:not([type=hidden]):not([disabled]), textarea:not([disabled]), select:not([disabled])"
    );
  };

  Workspace.prototype.focusFirstQuestion = function () {
    var first = this.firstQuestion();
    if (first) first.focus({ preventScroll: true });
  };

  Workspace.prototype.choices = function () {
    if (this.taskType === "pairwise") {
      return this.form.querySelectorAll("input[type=radio][name=preference]");
    }
    var first = this.form.querySelector("input[type=radio]");
    if (!first) return [];
    return Array.prototype.filter.call(
      this.form.querySelectorAll("input[type=radio]"),
      function (radio) {
        return radio.name === first.name;
      }
    );
  };

  Workspace.prototype.pick = function (number) {
    var choices = this.choices();
    var limit = this.taskType === "pairwise" ? 5 : 9;
    if (number < 1 || number > Math.min(limit, choices.length)) return false;
    var radio = choices[number - 1];
    radio.checked = true;
    radio.focus();
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  };

  Workspace.prototype.openSkip = function () {
    if (!this.skipPanel) return;
    this.skipPanel.open = true;
    var reason = this.skipPanel.querySelector("select");
    if (reason) reason.focus();
  };

  Workspace.prototype.toggleShortcuts = function () {
    if (!this.shortcuts) return;
    this.shortcuts.open = !this.shortcuts.open;
    if (this.shortcuts.open) this.shortcuts.querySelector("summary").focus();
  };

  Workspace.prototype.focusText = function () {
    var text = this.form.querySelector("textarea:not([disabled])");
    if (text) text.focus();
  };

  Workspace.prototype.focusConfidence = function () {
    var slider = this.form.querySelector("[data-confidence]");
    if (slider) slider.focus();
  };

  Workspace.prototype.onKey = function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      if (this.skipPanel && this.skipPanel.contains(target)) return; // Enter submits the skip
      event.preventDefault();
      if (this.form.requestSubmit) this.form.requestSubmit();
      else this.form.dispatchEvent(new Event("submit", { cancelable: true }));
      return true;
    }
    if (event.key === "Escape") {
      if (isTextField(target) && this.root.contains(target)) {
        event.preventDefault();
        target.blur();
        var holder = target.closest("fieldset") || this.form;
        if (!holder.hasAttribute("tabindex")) holder.setAttribute("tabindex", "-1");
        holder.focus({ preventScroll: true });
      } else if (this.skipPanel && this.skipPanel.open) {
        this.skipPanel.open = false;
      }
      return true;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(target)) return false;
    var key = event.key;
    if (/^[1-9]$/.test(key)) {
      if (this.pick(parseInt(key, 10))) event.preventDefault();
    } else if (key === "s" || key === "S") {
      event.preventDefault();
      this.openSkip();
    } else if (key === "?") {
      event.preventDefault();
      this.toggleShortcuts();
    } else if (key === "t" || key === "T") {
      event.preventDefault();
      this.focusText();
    } else if (key === "c" || key === "C") {
      event.preventDefault();
      this.focusConfidence();
    }
    return true;
  };

  // AI disclosure: the text is required once the expert says they used AI tools.
  Workspace.prototype.syncDisclosure = function () {
    var box = this.root.querySelector("[data-ai-disclosure]");
    if (!box) return;
    var yes = box.querySelector("input[name=ai_used][value=yes]");
    var text = box.querySelector("textarea[name=ai_disclosure]");
    if (yes && text) text.required = yes.checked;
  };

  document.addEventListener("keydown", function (event) {
    if (current && !current.done) current.onKey(event);
  });

  // Back/forward after a swap: load the page the URL names (its draft comes from the server).
  window.addEventListener("popstate", function () {
    if (current) current.saveOnLeaving();
    window.location.reload();
  });

  // An answer form sent without the workspace (editing an answer from the history): the
  // same page signals, counted since the page loaded, go with the form as hidden fields.
  function SignalForm(form) {
    var counts = { active_seconds: 0, pastes: 0, pasted_chars: 0, focus_losses: 0 };
    var lastActivity = Date.now();
    var away = !document.hasFocus() || document.visibilityState === "hidden";

    function activity() {
      lastActivity = Date.now();
    }
    function leave() {
      if (away) return;
      away = true;
      counts.focus_losses += 1;
    }
    function back() {
      away = false;
      activity();
    }
    function syncDisclosure() {
      var yes = form.querySelector("[data-ai-disclosure] input[name=ai_used][value=yes]");
      var text = form.querySelector("[data-ai-disclosure] textarea[name=ai_disclosure]");
      if (yes && text) text.required = yes.checked;
    }

    enhanceConfidence(form);
    syncDisclosure();
    ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "input", "touchstart"].forEach(
      function (type) {
        document.addEventListener(type, activity, { passive: true, capture: true });
      }
    );
    window.setInterval(function () {
      if (document.visibilityState !== "visible") return;
      if (Date.now() - lastActivity > IDLE_AFTER_MS) return;
      counts.active_seconds += 1;
    }, 1000);
    form.addEventListener("paste", function (event) {
      if (!isTextField(event.target)) return;
      var text = event.clipboardData ? event.clipboardData.getData("text") : "";
      counts.pastes += 1;
      counts.pasted_chars += text.length;
    });
    form.addEventListener("change", syncDisclosure);
    window.addEventListener("blur", leave);
    window.addEventListener("focus", back);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") leave();
      else back();
    });
    form.addEventListener("submit", function (event) {
      var slider = unsetConfidence(form);
      if (slider) {
        event.preventDefault();
        var holder = slider.closest("fieldset") || slider.parentNode;
        if (!holder.querySelector("[data-field-error]")) {
          var note = document.createElement("p");
          note.className = "errorlist field-error";
          note.setAttribute("data-field-error", "");
          note.setAttribute("role", "alert");
          note.textContent = "Set your confidence first.";
          holder.appendChild(note);
        }
        slider.focus();
        return;
      }
      SIGNAL_KEYS.forEach(function (key) {
        var field = form.querySelector("input[type=hidden][name=" + key + "]");
        if (!field) {
          field = document.createElement("input");
          field.type = "hidden";
          field.name = key;
          form.appendChild(field);
        }
        field.value = String(counts[key]);
      });
    });
  }

  document.querySelectorAll("form[data-signals-form]").forEach(SignalForm);

  var root = document.querySelector("[data-workspace]");
  if (root) current = new Workspace(root);
})();
