// PeoplePath timeline: a Streamlit component (components.v1, plain postMessage protocol,
// no build step) drawing the timeline figure with plotly.js. The figure arrives by URL
// (Streamlit's media endpoint) and is fetched only when that URL changes; a step sends
// only the cursor's time, and the cursor moves by Plotly.relayout, so the view (zoom,
// pan) survives steps. A click goes back to the page as {t_ms, person, n}.
"use strict";

const chart = document.getElementById("chart");
const errorLabel = document.getElementById("error");
const CONFIG = { displayModeBar: false, scrollZoom: true, responsive: true };

let shownUrl = null;    // the figure drawn now
let wantedUrl = null;   // the figure the page asks for
let cursor = null;      // the cursor's time (s) the page asks for
let cursorShapes = [];  // indexes of the figure's cursor lines
let clicks = 0;
let plotlyLoading = null;

function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data || {}), "*");
}
function setHeight(height) {
  send("streamlit:setFrameHeight", { height: Math.ceil(height) + 4 });
}
window.addEventListener("message", (event) => {
  if (event.data && event.data.type === "streamlit:render") render(event.data.args);
});
send("streamlit:componentReady", { apiVersion: 1 });

function loadPlotly(src) {
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error("plotly.js did not load from " + src));
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

// The media endpoint's URL ("/media/<id>.json") relative to this frame's own address
// (<base>/component/<name>/index.html), so a server base path is kept.
function mediaUrl(url) {
  return /^https?:/.test(url) ? url : new URL("../.." + url, window.location.href).href;
}

function render(args) {
  cursor = args.t;
  setHeight(args.height);
  if (args.figure !== wantedUrl) {
    wantedUrl = args.figure;
    draw(args).catch((e) => { errorLabel.textContent = String(e); });
  } else if (shownUrl === wantedUrl) {
    moveCursor();
  }
}

async function draw(args) {
  const url = args.figure;
  const [reply] = await Promise.all([fetch(mediaUrl(url)), loadPlotly(args.plotly)]);
  if (!reply.ok) throw new Error("the timeline figure could not be fetched (" + reply.status + ")");
  const fig = await reply.json();
  if (url !== wantedUrl) return;  // a newer figure was asked for meanwhile
  const layout = Object.assign(fig.layout, { clickmode: "event" });
  cursorShapes = (layout.shapes || []).flatMap((s, i) => (s.name === "cursor" ? [i] : []));
  cursorShapes.forEach((i) => { layout.shapes[i].x0 = layout.shapes[i].x1 = cursor; });
  const first = shownUrl === null;
  await Plotly.react(chart, fig.data, layout, CONFIG);
  shownUrl = url;
  errorLabel.textContent = "";
  chart.dataset.figure = url;
  if (first) chart.on("plotly_click", onClick);
  setHeight(layout.height);
  moveCursor();
}

function moveCursor() {
  const update = {};
  cursorShapes.forEach((i) => { update[`shapes[${i}].x0`] = cursor; update[`shapes[${i}].x1`] = cursor; });
  if (cursorShapes.length) Plotly.relayout(chart, update);
  chart.dataset.cursor = String(cursor);
}

// A point's time (ms): its customdata (a span's start, a detection's or a bin's time),
// else its x in seconds; and its person when it lies on a person's row ("#<Index>").
function onClick(event) {
  const point = event.points && event.points[0];
  if (!point) return;
  let custom = point.customdata;
  if (Array.isArray(custom)) custom = custom.length ? custom[0] : null;
  const tMs = custom !== null && custom !== undefined ? Math.round(+custom) : Math.round(+point.x * 1000);
  if (!Number.isFinite(tMs)) return;
  const row = typeof point.y === "string" && /^#\d+$/.test(point.y) ? +point.y.slice(1) : null;
  clicks += 1;
  send("streamlit:setComponentValue", { value: { t_ms: tMs, person: row, n: clicks, at: Date.now() }, dataType: "json" });
}
