"""The frame viewer: the exact frame of the chosen time with the detections drawn on it,
scrubbing controls, and the timeline above it. It runs as a Streamlit fragment, so
scrubbing reruns only this part of the page."""

from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import streamlit as st

from peoplepath import overlay, results

from . import ground_truth
from .loading import JobData
from .player import render_player
from .timeline import Marks, new_click, render_timeline

FRAME = "frame"  # session key of the current frame index (the slider's key)
SEEK = "frame_seek"  # counts the page's own moves of the frame (the player follows them)
PLAY, EXACT = "Play", "Exact frame"
FRAME_HEIGHT = 300  # px: the frame and the timeline fit a 1400x900 window together
TABLE_COLUMNS = {
    "index": "Index", "has_box": "Box", "x1": "x1", "y1": "y1", "x2": "x2", "y2": "y2", "has_face": "Face",
    "face_confidence": "Face conf.", "pose_yaw": "Yaw", "pose_pitch": "Pitch", "pose_roll": "Roll",
    "brightness": "Brightness", "sharpness": "Sharpness",
}


def frame_table(rows: Any) -> Any:
    """The frame's detections for the table: numbers to one decimal, blanks (not
    "None") where a detection has no face or no person box."""
    shown = rows[[c for c in TABLE_COLUMNS if c in rows]].rename(columns=TABLE_COLUMNS)
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = [f"{v:.1f}" if np.isfinite(v) else "" for v in shown[col]]
    return shown


def det_frames(data: JobData, reader: Any) -> np.ndarray:
    """The video frame of every detection (the last frame not after its Timestamp)."""
    return results.frames_from_timestamps(data.table["timestamp_ms"].to_numpy(), reader.timestamps_ms)


def frame_at_ms(reader: Any, ms: float) -> int:
    times = reader.timestamps_ms
    return int(min(max(np.searchsorted(times, ms, side="right") - 1, 0), len(times) - 1))


def _set_frame(n_frames: int, value: int) -> None:
    st.session_state[FRAME] = int(min(max(value, 0), n_frames - 1))
    _moved()


def _moved() -> None:
    """The page moved the frame (a button, the slider, the timeline): the player follows."""
    st.session_state[SEEK] = st.session_state.get(SEEK, 0) + 1


def _from_player(key: str, n_frames: int) -> None:
    """The player's report: the page follows its frame (without seeking it back)."""
    value = st.session_state.get(key) or {}
    if "frame" in value:
        st.session_state[FRAME] = int(min(max(int(value["frame"]), 0), n_frames - 1))


def _step(n_frames: int, delta: int) -> None:
    _set_frame(n_frames, st.session_state.get(FRAME, 0) + delta)


def _next_detection(frames: np.ndarray, n_frames: int, forward: bool) -> None:
    cur = st.session_state.get(FRAME, 0)
    if forward:
        i = np.searchsorted(frames, cur, side="right")
        target = frames[i] if i < len(frames) else cur
    else:
        i = np.searchsorted(frames, cur, side="left") - 1
        target = frames[i] if i >= 0 else cur
    _set_frame(n_frames, int(target))


@st.fragment
def render_viewer(data: JobData, reader: Any, *, key: str, gt: ground_truth.Comparison | None = None,
                  player_url: str | None = None, extra_layers: Sequence[overlay.Annotator] = (),
                  marks: Sequence[Marks] = ()) -> int:
    """The frame with its detections, the scrubbing controls (slider, previous/next
    frame and detection, a person's first/last appearance; arrow keys and Shift+arrow
    keys too), the person filter, overlay toggles and the timeline; with ground truth
    `gt`, its errors on the frame and the timeline and previous/next error; `extra_layers`
    are drawn on the exact frame too (lines and zones), `marks` on the timeline. With `player_url` (the
    browser-playable video), the "Play" view plays it in the browser with the detections
    drawn per frame; "Exact frame" draws the frame on the server.
    Returns the current time in ms."""
    n = len(reader.timestamps_ms)
    st.session_state.setdefault(FRAME, 0)
    st.session_state[FRAME] = int(min(max(st.session_state[FRAME], 0), n - 1))
    people = data.summary["index"].tolist()
    st.session_state.setdefault(f"{key}_persons", [])
    for name, default in (("boxes", True), ("faces", True), ("landmarks", True), ("trails", False)):
        st.session_state.setdefault(f"{key}_{name}", default)

    st.session_state.setdefault(f"{key}_view", PLAY if player_url else EXACT)
    left, right = st.columns([3, 1.15], gap="medium")
    with right:
        view = st.segmented_control("View", [PLAY, EXACT], key=f"{key}_view", label_visibility="collapsed",
                                    disabled=not player_url,
                                    help="Play: the video in the browser, detections drawn on every frame. "
                                         "Exact frame: the frame drawn on the server, with every overlay.")
        playing = view == PLAY and bool(player_url)
        chosen = st.multiselect("Persons", people, key=f"{key}_persons", placeholder="All persons",
                                format_func=lambda i: f"#{i}")
        boxes = st.toggle("Person boxes", key=f"{key}_boxes")
        faces = st.toggle("Face boxes", key=f"{key}_faces")
        landmarks = st.toggle("Face landmarks", key=f"{key}_landmarks", disabled=playing,
                              help="In the exact frame view" if playing else None)
        trails = st.toggle("Recent paths", key=f"{key}_trails", disabled=playing,
                           help="In the exact frame view" if playing else None)
        gt_view = ground_truth.render_error_controls(gt, n, key=f"{key}_gt", jump=_next_detection) if gt else None
        jump_box = st.container()
    persons = chosen or None
    table = data.table if persons is None else data.table[data.table["index"].isin(persons)]
    frames_all = det_frames(data, reader)
    frames = frames_all if persons is None else frames_all[data.table["index"].isin(persons).to_numpy()]
    det_unique = np.unique(frames)

    clicked = new_click(f"{key}_timeline")  # a click on the timeline moves the frame before it is drawn
    if clicked is not None:
        _set_frame(n, frame_at_ms(reader, clicked))

    with left:
        controls = st.columns(4)
        buttons = (  # key, label, icon, help, shortcut, callback, args
            ("prev_det", "Prev", ":material/skip_previous:", "Previous frame with a detection", "Shift+Left",
             _next_detection, (det_unique, n, False)),
            ("prev", "-1", ":material/chevron_left:", "Previous frame", None if playing else "Left", _step, (n, -1)),
            ("next", "+1", ":material/chevron_right:", "Next frame", None if playing else "Right", _step, (n, 1)),
            ("next_det", "Next", ":material/skip_next:", "Next frame with a detection", "Shift+Right",
             _next_detection, (det_unique, n, True)),
        )
        for col, (name, label, icon, tip, shortcut, callback, args) in zip(controls, buttons):
            col.button(label, key=f"{key}_{name}", icon=icon, help=tip + (" (arrow keys: the player's)" if playing else ""),
                       shortcut=shortcut, on_click=callback, args=args, width="stretch",
                       icon_position="right" if name.startswith("next") else "left")
        st.slider("Frame", 0, n - 1, key=FRAME, label_visibility="collapsed")
        index = st.session_state[FRAME]
        lo, hi = np.searchsorted(frames, index, "left"), np.searchsorted(frames, index, "right")
        rows = table.iloc[lo:hi]  # frames run in the table's (time) order, filtered or not
        timestamp_ms = int(reader.timestamps_ms[index])
        if playing:
            st.session_state.setdefault(SEEK, 0)
            reported = (st.session_state.get(f"{key}_player") or {}).get("frame")
            if reported is not None and index not in (reported, st.session_state.get(f"{key}_seek_at")):
                _moved()  # the slider moved it: the player follows
            if st.session_state.get(f"{key}_seek_at") is None or st.session_state.get(f"{key}_seek_n") != st.session_state[SEEK]:
                st.session_state[f"{key}_seek_at"], st.session_state[f"{key}_seek_n"] = index, st.session_state[SEEK]
            render_player(
                url=player_url, table=table, det_frames=frames, times_ms=reader.timestamps_ms,
                fps=float(reader.info.fps), size=(reader.info.width, reader.info.height),
                frame=st.session_state[f"{key}_seek_at"], seek=st.session_state[SEEK], current=index,
                boxes=boxes, faces=faces, max_height=FRAME_HEIGHT, key=f"{key}_player",
                detections_key=f"{data.cache_key}|{persons}", on_change=lambda: _from_player(f"{key}_player", n))
            caption = f"frame {index} of {n - 1} · {timestamp_ms / 1000:.3f} s · {len(rows)} detection(s)"
            st.caption(caption + (ground_truth.frame_caption(gt, index) if gt else ""))
        else:
            frame = reader.frame_at_index(index)
            view_ = overlay.View(rows, table, frame.timestamp_ms)
            layers = [*overlay.annotators(boxes=boxes, faces=faces, landmarks=landmarks, trails=trails), *extra_layers]
            if gt_view and gt_view.overlay:
                layers.append(ground_truth.annotator(gt, index, gt_view))
            image = overlay.render(frame.image, view_, layers)
            height, width = image.shape[:2]
            st.image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), output_format="JPEG",
                     width=max(1, round(FRAME_HEIGHT * width / height)),
                     caption=f"frame {index} of {n - 1} · {frame.timestamp_ms / 1000:.3f} s · {len(rows)} detection(s)"
                     + (ground_truth.frame_caption(gt, index) if gt else ""))
        if gt:
            ground_truth.render_frame_errors(gt, index)
        timeline_box = st.container()  # right under the frame: a click shows its result in view

        st.dataframe(frame_table(rows), hide_index=True, height=min(38 + 35 * max(len(rows), 1), 320))
    with jump_box:
        _jump_controls(data, reader, n, people, key=key)
    with right:
        st.markdown(f"**{timestamp_ms:,} ms** · frame **{index}** of {n - 1}")
        st.caption("Boxes: person (colour per Index) · white: face · dots: eyes (cyan), nose (yellow), mouth (magenta)")
        if gt:
            st.caption(ground_truth.legend())
    with timeline_box:  # drawn last, so the frame reaches the browser first
        render_timeline(data, timestamp_ms, key=f"{key}_timeline", persons=persons, marks=marks,
                        **({"errors": gt.events, "errors_key": gt.key} if gt_view and gt_view.overlay else {}))
    _sync_link(data, timestamp_ms)
    return timestamp_ms


def _jump_controls(data: JobData, reader: Any, n: int, people: list[int], *, key: str) -> None:
    """Per person: first / previous / next / last appearance (a tracked span's start),
    the next or previous moment a new person enters, and a zoom on the person or their
    face (a crop of the frame at full resolution)."""
    if not people:
        return
    summary = data.summary.set_index("index")
    person = st.selectbox("Jump to a person", people, key=f"{key}_jump_person", format_func=lambda i: f"Person #{i}")
    first, last = int(summary.at[person, "first_ms"]), int(summary.at[person, "last_ms"])
    cur = st.session_state.get(FRAME, 0)
    starts = np.unique([frame_at_ms(reader, t) for t in data.segments.loc[data.segments["index"] == person, "start_ms"]])
    enters = np.unique([frame_at_ms(reader, t) for t in data.summary["first_ms"]])
    cols = st.columns(4)
    steps = (  # key, icon, help, target frame
        ("first", ":material/first_page:", f"#{person} first seen at {first / 1000:.3f} s", frame_at_ms(reader, first)),
        ("appear_prev", ":material/arrow_back:", f"#{person}'s previous appearance", _before(starts, cur)),
        ("appear_next", ":material/arrow_forward:", f"#{person}'s next appearance", _after(starts, cur)),
        ("last", ":material/last_page:", f"#{person} last seen at {last / 1000:.3f} s", frame_at_ms(reader, last)),
    )
    for col, (name, icon, tip, target) in zip(cols, steps):
        col.button("", key=f"{key}_{name}", icon=icon, help=tip, on_click=_set_frame, args=(n, target),
                   width="stretch", disabled=target == cur)
    cols = st.columns(2)
    cols[0].button("Entered", key=f"{key}_enter_prev", icon=":material/person_add:", width="stretch",
                   help="The previous moment a new person enters", on_click=_set_frame, args=(n, _before(enters, cur)))
    cols[1].button("Enters", key=f"{key}_enter_next", icon=":material/person_add:", icon_position="right",
                   width="stretch", help="The next moment a new person enters", on_click=_set_frame,
                   args=(n, _after(enters, cur)))
    zoom = st.segmented_control("Zoom", ["Person", "Face"], key=f"{key}_zoom", help="A crop of the frame at full resolution")
    if zoom:
        _zoom(data, reader, person, cur, face=zoom == "Face")


def _before(frames: np.ndarray, cur: int) -> int:
    i = int(np.searchsorted(frames, cur, side="left")) - 1
    return int(frames[i]) if i >= 0 else cur


def _after(frames: np.ndarray, cur: int) -> int:
    i = int(np.searchsorted(frames, cur, side="right"))
    return int(frames[i]) if i < len(frames) else cur


def _zoom(data: JobData, reader: Any, person: int, index: int, *, face: bool) -> None:
    """The person's (or face's) box on the current frame, cropped at full resolution."""
    frame = reader.frame_at_index(index)
    rows = data.table[(data.table["index"] == person)
                      & (results.frames_from_timestamps(data.table["timestamp_ms"].to_numpy(), reader.timestamps_ms) == index)]
    prefix = "face_" if face else ""
    rows = rows[rows[f"{prefix}left"].notna()]
    if rows.empty:
        st.caption(f"#{person} has no {'face' if face else 'box'} on this frame.")
        return
    h, w = frame.image.shape[:2]
    r = rows.iloc[0]
    pad = 0.15
    x1, x2 = r[f"{prefix}left"] * w, (r[f"{prefix}left"] + r[f"{prefix}width"]) * w
    y1, y2 = r[f"{prefix}top"] * h, (r[f"{prefix}top"] + r[f"{prefix}height"]) * h
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    crop = frame.image[int(max(0, y1 - dy)):int(min(h, y2 + dy)), int(max(0, x1 - dx)):int(min(w, x2 + dx))]
    if crop.size:
        st.image(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), caption=f"#{person}{' face' if face else ''}, "
                 f"{crop.shape[1]}x{crop.shape[0]} px at full resolution", width="stretch")


def _sync_link(data: JobData, t_ms: int) -> None:
    """Keep `?job_id=...&t=...` in the URL following the current job and time."""
    if data.source == "api" and data.job.job_id:
        if st.query_params.get("job_id") != data.job.job_id:
            st.query_params["job_id"] = data.job.job_id
    elif "job_id" in st.query_params:
        del st.query_params["job_id"]  # archived results: the link carries only the time
    if st.query_params.get("t") != str(t_ms):
        st.query_params["t"] = str(t_ms)
