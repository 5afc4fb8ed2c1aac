// asyncthink's page: one WebSocket to /v1/realtime (no build step, no dependencies).
//   ask       -> conversation.item.create + response.create
//   interject -> conversation.item.create while the response runs (heard by it: response.asyncthink.heard)
//   cancel    -> response.cancel
//   server    -> response.reasoning_text.delta (thoughts pane), response.output_text.delta (answer pane),
//                response.asyncthink.state (state line), response.done (stats), error (banner)
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    model: $("model"), conn: $("conn"), connText: $("conn-text"), settings: $("settings"),
    settingsToggle: $("settings-toggle"), key: $("api-key"), mode: $("mode"), maxTokens: $("max-tokens"),
    multiTurn: $("multi-turn"), state: $("state"), stateText: $("state-text"), reason: $("state-reason"),
    stats: $("stats"), error: $("error"), question: $("question"), thoughts: $("thoughts"), answer: $("answer"),
    thoughtsPane: $("thoughts-pane"), answerPane: $("answer-pane"), form: $("composer"), input: $("input"),
    send: $("send"), cancel: $("cancel"), speak: $("speak"), speakLabel: $("speak-label"),
  };
  const KEY_PROTOCOL = "openai-insecure-api-key.";
  const AUTH_CODES = new Set(["missing_api_key", "invalid_api_key"]);
  const LABELS = {
    ready: "ready", connecting: "connecting", waiting: "waiting for room", thinking: "thinking",
    "thinking-writing": "thinking + writing", paused: "paused", writing: "writing", cancelling: "cancelling",
    done: "done", cancelled: "cancelled", failed: "failed",
  };
  const REASONS = {
    writer_paragraph_end: "the writer finished a paragraph and waits for the thinker",
    control_no: "the thinker says the writer should wait", heard_input: "new input was heard",
    control_yes: "the thinker says the writer may go on", thinker_closed: "the thinker finished",
    thinker_budget: "the thinker ran out of tokens",
  };
  let conn = null; // {socket, ready: Promise, used: bool}
  let turn = null; // the question being answered: {phase, responseId, tail, pending, answer, ...}
  let counter = 0;
  let keyAsked = false; // the settings were opened to ask for the API key
  const interjections = new Map(); // item id -> text, for items sent while a response runs
  const speaker = window.asyncthinkSpeaker(ui.speak); // speech.js

  const newId = (prefix) => `${prefix}_web${Date.now().toString(36)}${(++counter).toString(36)}`;
  const userItem = (id, text) => ({type: "message", role: "user", id, content: [{type: "input_text", text}]});

  // ---- connection ---------------------------------------------------------------------

  function connect() {
    if (conn) {
      const old = conn.socket;
      conn = null;
      old.close(1000);
    }
    const key = ui.key.value.trim();
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/realtime`;
    let socket;
    try {
      // a browser cannot set headers on a WebSocket: the key rides as a subprotocol next to "realtime"
      socket = key ? new WebSocket(url, ["realtime", KEY_PROTOCOL + key]) : new WebSocket(url);
    } catch (error) {
      setConn("refused", "bad API key");
      return Promise.reject(new Error("That API key cannot be sent (only letters, digits and -._~ are allowed)."));
    }
    const current = {socket, used: false};
    current.ready = new Promise((resolve, reject) => {
      current.resolve = resolve;
      current.reject = reject;
    });
    current.ready.catch(() => {});
    conn = current;
    setConn("connecting", "connecting");
    socket.onmessage = (message) => {
      if (conn === current) onEvent(JSON.parse(message.data));
    };
    socket.onclose = (event) => {
      current.reject(new Error("Could not reach the server's WebSocket (/v1/realtime)."));
      if (conn !== current) return;
      conn = null;
      setConn(event.code === 1008 ? "refused" : "closed", event.code === 1008 ? "refused" : "disconnected");
      if (turn && turn.phase !== "done") endTurn("failed", "the connection closed");
    };
    return current.ready;
  }

  const ready = () => (conn && conn.socket.readyState <= WebSocket.OPEN ? conn.ready : connect());

  function send(type, fields) {
    const eventId = newId("event");
    conn.socket.send(JSON.stringify({type, event_id: eventId, ...fields}));
    return eventId;
  }

  function setConn(kind, text) {
    ui.conn.dataset.conn = kind;
    ui.connText.textContent = text;
  }

  // ---- user actions -------------------------------------------------------------------

  async function ask(text) {
    hideError();
    // a new conversation unless told to remember (or the key changed)
    const fresh = conn && (conn.stale || (!ui.multiTurn.checked && conn.used));
    startTurn(text);
    try {
      await (fresh ? connect() : ready());
    } catch (error) {
      endTurn("failed", "");
      showError(error.message);
      return;
    }
    if (turn.phase === "cancelling") {
      endTurn("cancelled", "");
      return;
    }
    conn.used = true;
    send("conversation.item.create", {item: userItem(newId("item"), text)});
    const settings = {};
    if (ui.mode.value) settings.mode = ui.mode.value;
    const maxTokens = parseInt(ui.maxTokens.value, 10);
    if (maxTokens > 0) settings.max_response_output_tokens = maxTokens;
    turn.createId = send("response.create", Object.keys(settings).length ? {response: settings} : {});
  }

  async function interject(text) {
    const id = newId("item");
    interjections.set(id, text);
    await ready();
    send("conversation.item.create", {item: userItem(id, text)});
  }

  function cancel() {
    if (!turn || !["waiting", "running"].includes(turn.phase)) return;
    turn.phase = "cancelling"; // (not yet asked: ask() ends the turn instead of asking)
    setState("cancelling");
    speaker.stop();
    if (turn.createId && conn) send("response.cancel", {});
  }

  // ---- server events ------------------------------------------------------------------

  function onEvent(event) {
    switch (event.type) {
      case "session.created":
        ui.model.textContent = event.session.model;
        if (keyAsked) showSettings(false); // the key was asked for and is now right
        keyAsked = false;
        setConn("connected", "connected");
        conn.resolve();
        break;
      case "conversation.item.created":
        onItem(event.item);
        break;
      case "response.created":
        if (!turn) break;
        turn.responseId = event.response.id;
        if (turn.phase === "waiting") {
          turn.phase = "running";
          setState("thinking");
        }
        break;
      case "response.reasoning_text.delta":
        if (turn) addThought(event.delta);
        break;
      case "response.output_text.delta":
        if (turn) addAnswer(event.delta);
        break;
      case "response.asyncthink.state":
        if (turn) onState(event);
        break;
      case "response.asyncthink.heard":
        if (turn) addMarker(event.text, `heard \u2192 ${event.to}`, "heard");
        break;
      case "response.done":
        if (turn) onDone(event.response);
        break;
      case "error":
        onError(event.error);
        break;
    }
  }

  function onItem(item) {
    if (!interjections.has(item.id)) return;
    const text = interjections.get(item.id);
    interjections.delete(item.id);
    if (!item.asyncthink || !item.asyncthink.heard_by) {
      // the answer had finished before the server got it: it is in the conversation, unheard
      if (turn) addMarker(text, "too late, not heard", "heard late");
    }
  }

  function onState(event) {
    const byState = {
      thinker_only: turn.writerStarted ? "paused" : "thinking", thinker_and_writer: "thinking-writing",
      writer_only: "writing",
    };
    const state = byState[event.state];
    if (!state || turn.phase !== "running") return; // "done": response.done follows with the outcome
    // where the writer started, paused and resumed, marked in the thoughts
    if (state === "thinking-writing") addMarker("", turn.writerStarted ? "writer resumes" : "writer starts", "mark");
    if (state === "paused") addMarker("", "writer pauses", "mark paused");
    turn.writerStarted ||= state !== "thinking";
    setState(state, state === "paused" || state === "writing" ? REASONS[event.reason] || "" : "");
  }

  function onDone(response) {
    const status = response.status;
    const outcome = {completed: "done", incomplete: "done", cancelled: "cancelled"}[status] || "failed";
    const note = status === "incomplete" ? "the token limit was reached" : "";
    const usage = response.usage;
    if (usage) {
      const first = usage.time_to_first_writer_token;
      const parts = [`thinker ${usage.thinker_tokens} tokens`, `writer ${usage.writer_tokens} tokens`];
      if (first != null) parts.push(`first answer token after ${first.toFixed(2)} s`);
      parts.push(`${((performance.now() - turn.started) / 1000).toFixed(2)} s in all`);
      ui.stats.textContent = parts.join(" \u00b7 ");
    }
    if (status === "cancelled") speaker.stop();
    else speaker.feed("", true);
    endTurn(outcome, note);
  }

  function onError(error) {
    if (AUTH_CODES.has(error.code)) {
      showSettings(true);
      keyAsked = true;
      ui.key.focus();
      showError(`${error.message} Enter the server's key in Settings.`);
      if (turn && turn.phase !== "done") endTurn("failed", "");
      return;
    }
    if (error.code === "response_cancel_not_active") return; // it had just finished
    showError(error.message);
    // a response that never started (refused, no room): no response.done follows
    const refused = turn && !turn.responseId && (error.event_id == null || error.event_id === turn.createId);
    if (refused && turn.phase !== "done") endTurn("failed", "");
  }

  // ---- rendering ------------------------------------------------------------------------

  function startTurn(text) {
    turn = {phase: "waiting", responseId: null, tail: null, pending: [], answer: "", writerStarted: false,
            started: performance.now()};
    ui.question.textContent = text;
    ui.question.hidden = false;
    ui.thoughts.replaceChildren();
    ui.answer.replaceChildren();
    ui.stats.textContent = "";
    speaker.stop();
    document.body.classList.add("running");
    ui.send.textContent = "Interject";
    ui.input.placeholder = "Add something: it is heard while the model thinks";
    ui.cancel.disabled = false;
    setState("waiting");
  }

  function endTurn(outcome, note) {
    if (turn.pending.length) placeMark(null);
    turn.phase = "done";
    document.body.classList.remove("running");
    ui.send.textContent = "Ask";
    ui.input.placeholder = conn && ui.multiTurn.checked ? "Ask a follow-up" : "Ask a question";
    ui.cancel.disabled = true;
    if (!turn.answer) ui.answer.replaceChildren(span("muted", outcome === "done" ? "(no answer)" : "(none)"));
    if (!ui.thoughts.hasChildNodes()) ui.thoughts.replaceChildren(span("muted", "(no thoughts)"));
    setState(outcome, note);
  }

  function setState(state, reason = "") {
    ui.state.dataset.state = state;
    ui.stateText.textContent = LABELS[state] || state;
    ui.reason.textContent = reason;
    ui.thoughtsPane.classList.toggle("active", ["thinking", "thinking-writing", "paused"].includes(state));
    ui.answerPane.classList.toggle("active", ["thinking-writing", "writing"].includes(state));
  }

  function span(className, text) {
    const node = document.createElement("span");
    node.className = className;
    node.textContent = text;
    return node;
  }

  // a pane scrolled to its end follows the new text; one the user scrolled up stays put
  const following = (pane) => pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
  const stick = (pane, wasFollowing) => wasFollowing && (pane.scrollTop = pane.scrollHeight);

  function addThought(text) {
    const follow = following(ui.thoughts);
    if (turn.pending.length) {
      // writer markers wait for the end of the word they came in ("Back to 1|4." reads "Back to 14. |")
      const word = /^\S*/.exec(text)[0].length;
      appendThought(text.slice(0, word));
      text = text.slice(word);
      if (text) placeMark(null);
    }
    appendThought(text);
    stick(ui.thoughts, follow);
  }

  function appendThought(text) {
    if (!text) return;
    if (!turn.tail) {
      turn.tail = document.createTextNode("");
      ui.thoughts.append(turn.tail);
    }
    turn.tail.data += text;
  }

  function addMarker(text, tag, className) {
    const marker = span(className, "");
    marker.append(span("tag", tag), text);
    const inWord = turn.tail && /\S$/.test(turn.tail.data);
    if (className.startsWith("mark") && inWord) turn.pending.push(marker); // (writer markers only)
    else placeMark(marker); // heard input: exactly where it landed
  }

  function placeMark(marker) {
    const follow = following(ui.thoughts);
    ui.thoughts.append(...turn.pending.splice(0), ...(marker ? [marker] : []));
    turn.tail = null; // later thoughts go after the marker
    stick(ui.thoughts, follow);
  }

  function addAnswer(text) {
    const follow = following(ui.answer);
    turn.answer += text;
    renderAnswer(ui.answer, turn.answer);
    stick(ui.answer, follow);
    speaker.feed(text);
  }

  function renderAnswer(pane, text) {
    // plain text, with each complete \boxed{...} drawn as a box
    const nodes = [];
    const boxed = /\\boxed\{([^{}]*)\}/g;
    let last = 0;
    for (const match of text.matchAll(boxed)) {
      nodes.push(text.slice(last, match.index), span("boxed", match[1]));
      last = match.index + match[0].length;
    }
    nodes.push(text.slice(last));
    pane.replaceChildren(...nodes);
  }

  function showSettings(show) {
    ui.settings.hidden = !show;
    ui.settingsToggle.setAttribute("aria-expanded", String(show));
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  const hideError = () => (ui.error.hidden = true);

  // ---- wiring -------------------------------------------------------------------------

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = "";
    if (turn && turn.phase !== "done") interject(text).catch((error) => showError(error.message));
    else ask(text);
  });
  ui.cancel.addEventListener("click", cancel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") cancel();
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      ui.input.value = example.textContent;
      ui.input.focus();
    });
  }
  ui.settings.addEventListener("submit", (event) => {
    event.preventDefault();
    applyKey();
  });
  ui.settingsToggle.addEventListener("click", () => showSettings(ui.settings.hidden));
  ui.key.value = sessionStorage.getItem("asyncthink.key") || "";
  let appliedKey = ui.key.value.trim();
  function applyKey() {
    // a new key: a new connection with it (now, unless a response is running: then with the next question)
    const key = ui.key.value.trim();
    if (key === appliedKey) return;
    appliedKey = key;
    sessionStorage.setItem("asyncthink.key", key);
    hideError();
    if (!turn || turn.phase === "done") connect().catch((error) => showError(error.message));
    else if (conn) conn.stale = true;
  }
  ui.key.addEventListener("change", applyKey);
  ui.speakLabel.hidden = !speaker.available;
  ui.speak.addEventListener("change", () => {
    if (!ui.speak.checked) speaker.stop();
  });
  connect().catch(() => {});
  ui.input.focus();
})();
