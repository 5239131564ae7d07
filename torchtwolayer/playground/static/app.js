// The page: settings from the URL, one session on the server, a loop that polls frames and draws them.
import * as api from "./api.js";
import { drawBoundary, drawCurves, drawNeuron } from "./draw.js";
import { drawEquations, drawWeights, highlightUnit } from "./panels.js";

const SETTINGS = ["dataset", "noise", "n_samples", "hidden", "activation", "init", "seed", "lr", "batch", "speed"];
const PLAYING_PERIOD = 66; // ms between frames while playing (15 per second)
const IDLE_PERIOD = 1000; // ms between polls while paused: the heartbeat

const $ = (id) => document.getElementById(id);
const form = $("controls");
const state = { session: null, run: 0, history: [], points: null, extent: null, steps: -1, playing: false };
let wake = null; // resolves the loop's wait: a control was used, poll now
let pending = false;

function nudge() {
  pending = true;
  if (wake) wake();
}

// The settings the URL names (the server fills in the rest).
function urlSettings() {
  const query = new URLSearchParams(location.search);
  return Object.fromEntries(SETTINGS.filter((k) => query.get(k) !== null).map((k) => [k, query.get(k)]));
}

function formSettings() {
  const out = {};
  for (const k of SETTINGS) if (form.elements[k].value !== "") out[k] = form.elements[k].value;
  return out;
}

function showSettings(settings, datasets) {
  if (datasets) {
    form.elements.dataset.replaceChildren(...datasets.map((d) => new Option(d, d)));
  }
  for (const k of SETTINGS) form.elements[k].value = settings[k] ?? "";
  history.replaceState(null, "", `?${new URLSearchParams(settings)}`);
}

function say(text) {
  $("message").textContent = text || "";
}

async function start() {
  const reply = await api.newSession(urlSettings());
  Object.assign(state, { session: reply.session, run: 0, steps: -1 });
  form.elements.dataset.replaceChildren(...reply.datasets.map((d) => new Option(d, d)));
  $("download-checkpoint").href = api.downloadUrl(state.session, "checkpoint");
  $("download-onnx").href = api.downloadUrl(state.session, "onnx");
}

async function act(action, settings) {
  try {
    say("");
    await api.control(state.session, action, settings);
  } catch (error) {
    say(error.message);
  }
  nudge();
}

function draw(frame) {
  if (frame.run !== state.run) {
    Object.assign(state, { run: frame.run, history: [], points: frame.points, extent: frame.extent });
    showSettings(frame.settings);
    makeNeurons(frame.neurons.data.length);
  }
  state.history.push(...frame.history);
  state.steps = frame.steps;
  showPlaying(frame.playing);
  $("step-count").textContent = String(frame.steps);
  $("cost").textContent = frame.cost.toFixed(6);
  $("cost").dataset.value = String(frame.cost);
  const last = state.history[state.history.length - 1];
  $("accuracy").textContent = `${(100 * last[3]).toFixed(1)}% train, ${(100 * last[4]).toFixed(1)}% test`;
  drawBoundary($("boundary"), frame.boundary, state.extent, state.points);
  frame.neurons.data.forEach((d, j) => drawNeuron($("neurons").children[j].firstChild, d, frame.neurons.size));
  drawCurves($("curves"), state.history);
  drawEquations($("equations"), frame.equations, form.elements.activation.value, state.points.classes.length);
  drawWeights($("weights"), frame.weights);
  if (frame.error) say(frame.error);
}

function showPlaying(playing) {
  state.playing = playing;
  $("play").textContent = playing ? "❚❚ pause" : "▶ play";
}

function makeNeurons(n) {
  const figures = Array.from({ length: n }, (_, j) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 72;
    const caption = document.createElement("figcaption");
    caption.textContent = `h${j + 1}`;
    figure.append(canvas, caption);
    figure.addEventListener("mouseenter", () => highlightUnit(j));
    figure.addEventListener("mouseleave", () => highlightUnit(-1));
    return figure;
  });
  $("neurons").replaceChildren(...figures);
}

async function poll() {
  try {
    const since = state.history.length;
    const frame = await api.frame(state.session, state.run, since, state.steps);
    if (frame.unchanged) showPlaying(frame.playing);
    else draw(frame);
  } catch (error) {
    if (error.status !== 410) throw error;
    say("The session had ended (the tab was idle); a new one starts from the URL's settings.");
    await start();
  }
}

async function loop() {
  for (;;) {
    pending = false;
    const started = performance.now();
    await poll().catch((error) => say(error.message));
    if (pending) continue;
    const period = state.playing ? PLAYING_PERIOD : IDLE_PERIOD; // from the poll's start: its time is not added
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, Math.max(0, period - (performance.now() - started)));
    });
    wake = null;
  }
}

function wire() {
  $("play").addEventListener("click", () => act(state.playing ? "pause" : "play"));
  $("step").addEventListener("click", () => act("step"));
  $("reset").addEventListener("click", () => act("reset", formSettings()));
  for (const k of SETTINGS) form.elements[k].addEventListener("change", () => act("reset", formSettings()));
  form.elements.upload.addEventListener("change", async () => {
    const file = form.elements.upload.files[0];
    if (!file) return;
    try {
      const reply = await api.upload(file);
      form.elements.dataset.replaceChildren(...reply.datasets.map((d) => new Option(d, d)));
      form.elements.dataset.value = reply.dataset;
      await act("reset", formSettings());
    } catch (error) {
      say(error.message);
    }
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  addEventListener("pagehide", () => api.closeSession(state.session));
}

wire();
start().then(loop, (error) => say(error.message));
