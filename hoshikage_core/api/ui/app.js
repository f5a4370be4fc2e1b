// Hoshikage's built-in page: model status with load/unload, and a streaming chat.
// Plain browser JavaScript, no build step, no network beyond this server.
// Every URL is relative, so the page also works when the app is mounted under a prefix.
"use strict";

(() => {
  const KEY_STORAGE = "hoshikage.apiKey";
  const POLL_MS = 1000;
  const $ = (id) => document.getElementById(id);

  const state = {
    apiKey: sessionStorage.getItem(KEY_STORAGE) || "",
    keyPrompt: null, // a Promise while the key dialog is open
    keyDismissed: false, // the user closed the key dialog without a key
    history: [], // the chat so far, as sent to /v1/chat/completions
    controller: null, // aborts the running generation
    rows: new Map(), // model id -> its table row
    busy: new Set(), // model ids with a load/unload in flight from this page
  };

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // -- talking to the server ---------------------------------------------------

  async function errorOf(response) {
    let message = `${response.status} ${response.statusText}`;
    let code = null;
    try {
      const body = await response.json();
      if (body && body.error) {
        message = body.error.message || message;
        code = body.error.code;
      }
    } catch (_) { /* not JSON */ }
    return new ApiError(response.status, message, code);
  }

  async function api(path, { method = "GET", json, signal } = {}) {
    for (;;) {
      const headers = new Headers();
      if (state.apiKey) headers.set("Authorization", `Bearer ${state.apiKey}`);
      if (json !== undefined) headers.set("Content-Type", "application/json");
      const response = await fetch(path, {
        method, headers, signal, body: json === undefined ? undefined : JSON.stringify(json),
      });
      if (response.status !== 401) {
        if (!response.ok) throw await errorOf(response);
        return response;
      }
      const error = await errorOf(response);
      $("key-button").hidden = false;
      // Ask once; a dismissed dialog is not asked again until "API key" is clicked.
      if (state.keyDismissed || !(await askForKey(state.apiKey ? error.message : ""))) {
        throw error;
      }
    }
  }

  // Shows the key dialog; resolves true once a key was entered, false if dismissed.
  function askForKey(message) {
    if (!state.keyPrompt) {
      state.keyPrompt = new Promise((resolve) => {
        const dialog = $("key-dialog");
        $("key-error").hidden = !message;
        $("key-error").textContent = message;
        $("key-input").value = "";
        dialog.returnValue = "";
        dialog.addEventListener("close", () => {
          state.keyPrompt = null;
          const key = $("key-input").value.trim();
          state.keyDismissed = !(dialog.returnValue === "use" && key);
          if (!state.keyDismissed) {
            state.apiKey = key;
            sessionStorage.setItem(KEY_STORAGE, key);
          }
          resolve(!state.keyDismissed);
        }, { once: true });
        dialog.showModal();
      });
    }
    return state.keyPrompt;
  }

  // Server-sent events of a fetch() response: yields each event's data.
  async function* sseData(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const events = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = events.pop();
      for (const event of events) {
        const data = event.split(/\r\n|\n|\r/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""));
        if (data.length) yield data.join("\n");
      }
    }
  }

  // -- formatting ----------------------------------------------------------------

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function formatUntil(expiresAt, model) {
    if (model.state !== "ready") return "-";
    if (expiresAt === null) return model.running || model.queued ? "busy" : "never";
    const seconds = Math.max(0, Math.round(expiresAt - Date.now() / 1000));
    const minutes = Math.floor(seconds / 60);
    if (minutes >= 60) return `in ${Math.floor(minutes / 60)}h${minutes % 60}m`;
    return minutes ? `in ${minutes}m${String(seconds % 60).padStart(2, "0")}s` : `in ${seconds}s`;
  }

  // -- models ----------------------------------------------------------------------

  function cell(row, index) {
    return row.children[index];
  }

  function newRow(model) {
    const row = document.createElement("tr");
    row.dataset.model = model.id;
    for (let i = 0; i < 7; i += 1) row.appendChild(document.createElement("td"));
    const name = cell(row, 0);
    name.append(Object.assign(document.createElement("strong"), { textContent: model.id }));
    if (model.aliases.length) {
      const aliases = document.createElement("span");
      aliases.className = "aliases";
      aliases.textContent = `aka ${model.aliases.join(", ")}`;
      name.append(aliases);
    }
    name.append(Object.assign(document.createElement("span"), { className: "origin" }));
    cell(row, 2).className = "num";
    cell(row, 4).className = "num";
    cell(row, 5).className = "num";
    const actions = cell(row, 6);
    actions.className = "actions";
    for (const action of ["load", "unload"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.dataset.action = action;
      button.textContent = action === "load" ? "Load" : "Unload";
      button.addEventListener("click", () => steer(model.id, action));
      actions.append(button);
    }
    return row;
  }

  function describeOrigin(origin) {
    if (!origin || origin.kind === "config") return "";
    let text = origin.kind === "dir" ? `found in ${origin.root}` : `from ${origin.kind}`;
    if (origin.parts > 1) text += `, ${origin.parts} parts`;
    if (origin.mmproj) text += ", with a projector";
    return text;
  }

  function renderState(td, model) {
    td.replaceChildren();
    const pill = document.createElement("span");
    pill.className = "pill state";
    pill.dataset.state = model.state;
    const progress = model.load_progress;
    pill.textContent = model.state === "loading" && progress !== null
      ? `loading ${Math.floor(progress * 100)}%` : model.state;
    td.append(pill);
    if (model.removed) {
      td.append(Object.assign(document.createElement("span"),
        { className: "state-error", textContent: "removed from the config: finishing" }));
    }
    if (model.state === "loading" && progress !== null) {
      td.append(Object.assign(document.createElement("progress"), { max: 1, value: progress }));
    }
    if (model.error) {
      td.append(Object.assign(document.createElement("span"),
        { className: "state-error", textContent: model.error }));
    }
  }

  function renderModels(models) {
    const body = document.querySelector("#models tbody");
    const seen = new Set();
    for (const model of models) {
      seen.add(model.id);
      let row = state.rows.get(model.id);
      if (!row) {
        row = newRow(model);
        state.rows.set(model.id, row);
        body.append(row);
      }
      cell(row, 0).querySelector(".origin").textContent = describeOrigin(model.origin);
      renderState(cell(row, 1), model);
      cell(row, 2).textContent = formatBytes(model.memory_bytes);
      cell(row, 3).textContent = formatUntil(model.expires_at, model);
      cell(row, 4).textContent = model.running;
      cell(row, 5).textContent = model.queued;
      const busy = state.busy.has(model.id);
      const load = row.querySelector('[data-action="load"]');
      const unload = row.querySelector('[data-action="unload"]');
      load.hidden = !["unloaded", "failed"].includes(model.state);
      unload.hidden = !["ready", "loading"].includes(model.state);
      load.disabled = busy;
      unload.disabled = busy;
    }
    for (const [id, row] of state.rows) {
      if (!seen.has(id)) {
        row.remove();
        state.rows.delete(id);
      }
    }
    renderModelChoice(models);
  }

  function renderModelChoice(models) {
    const select = $("chat-model");
    const names = models.map((m) => m.id).join("\n");
    if (select.dataset.names === names) return;
    const previous = select.value;
    select.replaceChildren(...models.map((m) => new Option(
      m.aliases.length ? `${m.id} (${m.aliases.join(", ")})` : m.id, m.id)));
    select.dataset.names = names;
    const preferred = models.find((m) => m.aliases.includes("default"));
    if (models.some((m) => m.id === previous)) select.value = previous;
    else if (preferred) select.value = preferred.id;
  }

  async function refreshModels() {
    try {
      const response = await api("admin/models");
      renderModels((await response.json()).data);
      $("models-error").hidden = true;
    } catch (error) {
      $("models-error").hidden = false;
      $("models-error").textContent = error.message;
    }
  }

  async function steer(id, action) {
    state.busy.add(id);
    await refreshModels();
    try {
      await api(`admin/models/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    } catch (error) {
      $("models-error").hidden = false;
      $("models-error").textContent = `${action} ${id}: ${error.message}`;
    } finally {
      state.busy.delete(id);
      await refreshModels();
    }
  }

  async function refreshHealth() {
    const pill = $("connection");
    try {
      const response = await fetch("health");
      const health = await response.json();
      pill.dataset.state = "online";
      pill.textContent = `${health.models.loaded} of ${health.models.configured} loaded`;
      $("version").textContent = `v${health.version}`;
    } catch (_) {
      pill.dataset.state = "offline";
      pill.textContent = "server unreachable";
    }
  }

  async function poll() {
    if (document.visibilityState === "visible" && !state.keyPrompt) {
      await Promise.all([refreshHealth(), refreshModels()]);
    }
    setTimeout(poll, POLL_MS);
  }

  // -- chat --------------------------------------------------------------------------

  function addMessage(role, text) {
    const message = document.createElement("div");
    message.className = `message ${role}`;
    message.textContent = text; // model output is text, never HTML
    $("transcript").append(message);
    message.scrollIntoView({ block: "end" });
    return message;
  }

  function setGenerating(generating) {
    $("chat-send").disabled = generating;
    $("chat-stop").hidden = !generating;
  }

  // The chat's optional settings; left empty, the model's defaults apply.
  function sampling() {
    const settings = {};
    const maxTokens = $("chat-max-tokens").valueAsNumber;
    const temperature = $("chat-temperature").valueAsNumber;
    if (Number.isFinite(maxTokens)) settings.max_tokens = maxTokens;
    if (Number.isFinite(temperature)) settings.temperature = temperature;
    return settings;
  }

  async function send(text) {
    const model = $("chat-model").value;
    state.history.push({ role: "user", content: text });
    addMessage("user", text);
    const bubble = addMessage("assistant", "");
    state.controller = new AbortController();
    setGenerating(true);
    $("chat-stats").textContent = "";
    const started = performance.now();
    let firstAt = null;
    let answer = "";
    let usage = null;
    let finishReason = null;
    try {
      const response = await api("v1/chat/completions", {
        method: "POST",
        signal: state.controller.signal,
        json: { model, messages: state.history, ...sampling(), stream: true,
          stream_options: { include_usage: true } },
      });
      for await (const data of sseData(response)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(500, chunk.error.message, chunk.error.code);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices && chunk.choices[0];
        if (choice && choice.finish_reason) finishReason = choice.finish_reason;
        const delta = choice && choice.delta.content;
        if (delta) {
          if (firstAt === null) firstAt = performance.now();
          answer += delta;
          bubble.textContent = answer;
          bubble.scrollIntoView({ block: "end" });
        }
      }
      state.history.push({ role: "assistant", content: answer });
      if (usage) {
        const seconds = (performance.now() - (firstAt || started)) / 1000;
        const rate = usage.completion_tokens > 1 && seconds > 0
          ? `, ${((usage.completion_tokens - 1) / seconds).toFixed(1)} tokens/s` : "";
        const cut = finishReason === "length" ? " (cut at max tokens)" : "";
        $("chat-stats").textContent =
          `${usage.prompt_tokens} prompt + ${usage.completion_tokens} generated tokens${rate}${cut}`;
      }
    } catch (error) {
      if (error.name === "AbortError") {
        bubble.dataset.stopped = "true";
        state.history.push({ role: "assistant", content: answer });
        $("chat-stats").textContent = "stopped";
      } else {
        state.history.pop(); // the question goes unanswered; it can be asked again
        bubble.classList.add("error");
        bubble.textContent = error.message;
      }
    } finally {
      state.controller = null;
      setGenerating(false);
      refreshModels();
    }
  }

  function setUp() {
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("chat-input");
      const text = input.value.trim();
      if (!text || state.controller) return;
      input.value = "";
      send(text);
    });
    $("chat-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("chat-form").requestSubmit();
      }
    });
    $("chat-stop").addEventListener("click", () => state.controller && state.controller.abort());
    $("chat-clear").addEventListener("click", () => {
      if (state.controller) state.controller.abort();
      state.history = [];
      $("transcript").replaceChildren();
      $("chat-stats").textContent = "";
    });
    $("key-button").hidden = !state.apiKey;
    $("key-button").addEventListener("click", async () => {
      state.keyDismissed = false;
      if (await askForKey("")) refreshModels();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refreshModels();
    });
    poll();
  }

  setUp();
})();
