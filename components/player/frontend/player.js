// PeoplePath player: a Streamlit component (components.v1, plain postMessage protocol, no
// build step). Plays the browser-playable video with the detections drawn on a canvas
// over it. Each overlay is drawn for the very frame presented: requestVideoFrameCallback
// gives the frame's mediaTime, which maps to a frame index through the video's own frame
// timestamps. Frame steps queue: every key press moves the target one frame further, and
// the video seeks to the target's middle, so no press is lost however fast they come.
// The current frame goes back to the page (debounced) so the tables and panels follow.
"use strict";

const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const ctx = overlay.getContext("2d");
const playButton = document.getElementById("play");
const timeLabel = document.getElementById("time");
const errorLabel = document.getElementById("error");

let args = null;          // the latest render arguments
let times = [];           // every frame's timestamp (ms)
let frames = {};          // frame index -> [[index, l, t, w, h, fl, ft, fw, fh], ...]
let framesUrl = null;     // where `frames` came from (the page's window of detections)
let current = 0;          // the frame presented now
let target = null;        // the frame a queued step is going to
let lastSeek = null;      // the page's last seek request
let reported = null;      // the last frame sent to the page
let reportTimer = null;
let lastReportAt = 0;

// ------------------------------------------------------------------ Streamlit protocol
function send(type, data) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data || {}), "*");
}
function setHeight() {
  if (args) {  // the video as large as the column allows, at most max_height tall
    const w = Math.min(document.body.clientWidth, Math.round(args.max_height * args.width / args.height));
    document.getElementById("wrap").style.width = w + "px";
  }
  send("streamlit:setFrameHeight", { height: Math.ceil(document.body.scrollHeight) + 2 });
}
window.addEventListener("message", (event) => {
  if (event.data && event.data.type === "streamlit:render") render(event.data.args);
});
new ResizeObserver(setHeight).observe(document.body);
send("streamlit:componentReady", { apiVersion: 1 });

// ------------------------------------------------------------------ frames and times
function frameTimes(a) {
  if (a.times) return a.times;
  const out = new Array(a.n);  // constant rate: contract.frame_to_ms
  for (let i = 0; i < a.n; i++) out[i] = Math.round((i * 1000) / a.fps);
  return out;
}
function frameAt(ms) {  // the last frame whose timestamp is not after ms
  let lo = 0, hi = times.length - 1;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= ms) lo = mid; else hi = mid - 1;
  }
  return lo;
}
function frameOfMediaTime(seconds) {
  // Timestamps are rounded to whole ms: allow 1.5 ms (far less than a frame) of rounding.
  return frameAt(seconds * 1000 + 1.5);
}
function seekTime(i) {  // the middle of frame i, in seconds
  const start = times[i];
  const end = i + 1 < times.length ? times[i + 1] : start + 1000 / (args.fps || 25);
  return (start + (end - start) / 2) / 1000;
}

// ------------------------------------------------------------------ drawing
function fitCanvas() {
  if (overlay.width !== video.videoWidth || overlay.height !== video.videoHeight) {
    overlay.width = video.videoWidth || args.width;
    overlay.height = video.videoHeight || args.height;
  }
}

// The picture and its overlay drawn together: the frame the video shows now is taken
// as a WebCodecs VideoFrame, whose timestamp names it, and painted on the canvas under
// the detections of that very frame. The canvas covers the <video>, so what is on the
// screen is always one frame with its own overlay, even when the page is too busy to
// keep up with the video. Returns the frame index, or null (no WebCodecs, no frame yet).
function capture() {
  if (video.readyState < 2) return null;
  let picture;
  try { picture = new VideoFrame(video); } catch (e) { return null; }
  try {
    fitCanvas();
    ctx.drawImage(picture, 0, 0, overlay.width, overlay.height);
    return frameOfMediaTime(picture.timestamp / 1e6);
  } finally {
    picture.close();
  }
}

function show(meta) {  // the current picture with its overlay
  if (typeof VideoFrame === "undefined") {  // no WebCodecs: the overlay alone, over the <video>
    draw(frameOfMediaTime(meta ? meta.mediaTime : video.currentTime), meta, false);
    return;
  }
  const frame = capture();
  // No frame to take just now (buffering): keep the last picture with its own overlay.
  if (frame !== null) draw(frame, meta, true);
}

function draw(frame, meta, withPicture) {
  current = frame;
  fitCanvas();
  const W = overlay.width, H = overlay.height;
  if (!withPicture) ctx.clearRect(0, 0, W, H);
  const line = Math.max(1, Math.round(Math.min(W, H) / 300));
  const clip = (v, max) => Math.min(Math.max(v, 0), max);  // AWS ratios are float32
  for (const d of frames[frame] || []) {
    const [index, l, t, w, h, fl, ft, fw, fh] = d;
    const colour = args.colours[index % args.colours.length];
    if (args.boxes && l !== null) {
      const x1 = clip(l * W, W - 1), y1 = clip(t * H, H - 1), x2 = clip((l + w) * W, W - 1), y2 = clip((t + h) * H, H - 1);
      ctx.strokeStyle = colour;
      ctx.lineWidth = line + 1;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = "#" + index;
      ctx.font = `${Math.max(11, Math.round(Math.min(W, H) / 40))}px sans-serif`;
      const tw = ctx.measureText(label).width + 6, th = Math.max(13, Math.round(Math.min(W, H) / 32));
      const ly = y1 - th >= 0 ? y1 - th : y1;
      ctx.fillStyle = colour;
      ctx.fillRect(x1, ly, tw, th);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, x1 + 3, ly + th - 3);
    }
    if (args.faces && fl !== null && fl !== undefined) {
      const x1 = clip(fl * W, W - 1), y1 = clip(ft * H, H - 1), x2 = clip((fl + fw) * W, W - 1), y2 = clip((ft + fh) * H, H - 1);
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = Math.max(1, Math.min(line, Math.round((x2 - x1) / 30)));  // thin on small faces
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    }
  }
  const n = times.length;
  timeLabel.textContent = `frame ${frame} of ${n - 1} · ${(times[frame] / 1000).toFixed(3)} s`;
  document.body.dataset.frame = String(frame);
  document.dispatchEvent(new CustomEvent("peoplepath-overlay", {  // for anything that follows the player
    detail: { frame: frame, expectedDisplayTime: meta ? meta.expectedDisplayTime : null },
  }));
  report();
}

function onVideoFrame(now, meta) {
  show(meta);
  video.requestVideoFrameCallback(onVideoFrame);
}

// ------------------------------------------------------------------ back to the page
function report() {
  if (current === reported) return;
  clearTimeout(reportTimer);
  const playing = !video.paused;
  const wait = playing ? Math.max(0, 700 - (performance.now() - lastReportAt)) : 250;
  reportTimer = setTimeout(() => {
    if (target !== null || current === reported) return;  // steps still arriving: wait for the last
    reported = current;
    lastReportAt = performance.now();
    send("streamlit:setComponentValue", {
      value: { frame: current, t_ms: times[current], playing: !video.paused }, dataType: "json",
    });
  }, wait);
}

// ------------------------------------------------------------------ controls
function step(delta) {
  if (!times.length) return;
  video.pause();
  target = Math.min(Math.max((target === null ? current : target) + delta, 0), times.length - 1);
  video.currentTime = seekTime(target);
}
function seekTo(frame) {
  target = Math.min(Math.max(frame, 0), times.length - 1);
  video.currentTime = seekTime(target);
}
function togglePlay() {
  if (video.paused) {
    target = null;
    video.play().catch((e) => { errorLabel.textContent = "The video does not play here: " + e.message; });
  } else {
    video.pause();
  }
}
video.addEventListener("seeked", () => {
  const frame = frameOfMediaTime(video.currentTime);
  if (target !== null && frame === target) target = null;
  if (target === null) show(null);
});
video.addEventListener("play", () => { playButton.innerHTML = "&#10074;&#10074; Pause"; });
video.addEventListener("pause", () => { playButton.innerHTML = "&#9654; Play"; report(); });
video.addEventListener("loadedmetadata", () => { setHeight(); });
video.addEventListener("error", () => {
  errorLabel.textContent = "This browser cannot play the video; use the exact frame view.";
});
video.requestVideoFrameCallback(onVideoFrame);
playButton.addEventListener("click", togglePlay);
document.getElementById("back").addEventListener("click", () => step(-1));
document.getElementById("fwd").addEventListener("click", () => step(1));
document.getElementById("speed").addEventListener("change", (e) => { video.playbackRate = +e.target.value; });

function onKey(event) {
  const el = event.target;
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;  // Shift+arrows: the page's
  if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) && el.type !== "range") return;
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    event.preventDefault();
    event.stopImmediatePropagation();
    step(event.key === "ArrowRight" ? 1 : -1);
  } else if (event.key === " " || event.key === "k") {
    event.preventDefault();
    event.stopImmediatePropagation();
    togglePlay();
  }
}
document.addEventListener("keydown", onKey, true);
let parentDoc = null;
try {  // the page is the same origin: its keys step the player too
  parentDoc = window.parent.document;
  // One player listens to the page at a time: a re-created frame replaces the old listener,
  // so a key press is never counted twice.
  if (parentDoc.peoplepathPlayerKeys) parentDoc.removeEventListener("keydown", parentDoc.peoplepathPlayerKeys, true);
  parentDoc.peoplepathPlayerKeys = onKey;
  parentDoc.addEventListener("keydown", onKey, true);
  window.addEventListener("pagehide", () => {
    if (parentDoc.peoplepathPlayerKeys === onKey) {
      parentDoc.removeEventListener("keydown", onKey, true);
      parentDoc.peoplepathPlayerKeys = null;
    }
  });
} catch (e) { parentDoc = null; }

// ------------------------------------------------------------------ render
// The window of detections, fetched once per window from the page's media endpoint.
async function loadFrames(url) {
  framesUrl = url;
  try {
    const reply = await fetch(url);
    if (!reply.ok) throw new Error("detections could not be fetched (" + reply.status + ")");
    const loaded = await reply.json();
    if (url !== framesUrl) return;  // a newer window was asked for meanwhile
    frames = loaded;
    if (video.paused && target === null) show(null);
  } catch (e) {
    errorLabel.textContent = String(e);
  }
}

function render(a) {
  const first = args === null;
  const newVideo = first || a.url !== args.url;
  args = a;
  times = frameTimes(a);
  if (a.frames_url !== framesUrl) loadFrames(a.frames_url);
  if (newVideo) {
    video.src = a.url;
    current = Math.min(a.frame, times.length - 1);
    lastSeek = a.seek;
    reported = current;
    video.addEventListener("loadeddata", () => seekTo(current), { once: true });
  } else if (a.seek !== lastSeek) {
    lastSeek = a.seek;
    reported = a.frame;
    seekTo(a.frame);
  } else if (video.paused && target === null) {
    show(null);  // new overlay options or a new window of detections
  }
  setHeight();
}
