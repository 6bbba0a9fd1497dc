"""Ground truth beside a job's results: load a MOTChallenge gt.txt (and seqinfo.ini),
score the job against it, and show the errors (missed people, false boxes, identity
switches) as scores, frame overlays, per-frame reasons, error navigation and tables.
The matching itself lives in `peoplepath.gt_compare`."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from peoplepath import gt_compare, metrics, overlay, results

from .loading import JobData

LABELS = {gt_compare.FN: "Missed", gt_compare.FP: "False box", gt_compare.IDSW: "ID switch", gt_compare.TP: "Matched"}
WORDS = {gt_compare.FN: "missed", gt_compare.FP: "false", gt_compare.IDSW: "ID switch"}


@dataclass(frozen=True)
class GroundTruthFile:
    """MOT ground-truth rows, where they came from, and the sequence's seqinfo.ini."""

    rows: np.ndarray
    name: str
    digest: str
    seqinfo: dict[str, Any] | None


@dataclass(frozen=True)
class Comparison:
    """A job's results against ground truth: events per frame, scores, summaries."""

    events: pd.DataFrame
    scores: dict[str, float | int]
    persons: pd.DataFrame
    truths: pd.DataFrame
    name: str
    key: str
    size: tuple[int, int]  # the (width, height) of the results' pixel boxes


# ------------------------------------------------------------------------------ source
def render_gt_source(*, key: str) -> GroundTruthFile | None:
    """The ground-truth panel (call inside `st.sidebar`): upload gt.txt (+ seqinfo.ini)
    or give a path to gt.txt or to a MOTChallenge sequence folder."""
    with st.expander("Ground truth (MOTChallenge)", expanded=bool(st.session_state.get(f"{key}_path"))):
        uploads = st.file_uploader("gt.txt, and optionally its seqinfo.ini", type=["txt", "ini"],
                                   accept_multiple_files=True, key=f"{key}_upload")
        text = st.text_input("... or a path: gt.txt or a folder holding gt/gt.txt", key=f"{key}_path").strip()
    try:
        if uploads:
            return _from_uploads(uploads)
        if text:
            return _from_path(Path(text).expanduser())
    except (ValueError, OSError, KeyError) as exc:
        st.error(f"The ground truth cannot be read: {exc}")
    return None


def _from_path(path: Path) -> GroundTruthFile:
    if path.is_dir():
        folder = path
        path = path / "gt" / "gt.txt" if (path / "gt" / "gt.txt").is_file() else path / "gt.txt"
    else:
        folder = path.parent.parent if path.parent.name == "gt" else path.parent
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    seqinfo = metrics.read_seqinfo(folder) if (folder / "seqinfo.ini").is_file() else None
    return _read(str(path.resolve()), path.stat().st_mtime_ns, seqinfo)


def _from_uploads(uploads: list[Any]) -> GroundTruthFile:
    txts = [u for u in uploads if u.name.lower().endswith(".txt")]
    inis = [u for u in uploads if u.name.lower().endswith(".ini")]
    if len(txts) != 1 or len(inis) > 1:
        raise ValueError("upload one gt.txt and at most one seqinfo.ini")
    folder = Path(tempfile.gettempdir()) / "peoplepath-gt" / hashlib.sha256(txts[0].getvalue()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gt.txt"
    path.write_bytes(txts[0].getvalue())
    seqinfo = None
    if inis:
        (folder / "seqinfo.ini").write_bytes(inis[0].getvalue())
        seqinfo = metrics.read_seqinfo(folder)
    return _read(str(path), path.stat().st_mtime_ns, seqinfo, name=txts[0].name)


@st.cache_data(max_entries=8, show_spinner=False)
def _read(path: str, mtime_ns: int, seqinfo: dict[str, Any] | None, name: str = "") -> GroundTruthFile:
    rows = metrics.read_mot(path)
    if len(rows) and rows.shape[1] < 7:
        raise ValueError(f"{path}: ground truth needs 7+ columns (frame,id,left,top,width,height,consider,...)")
    digest = hashlib.sha256(rows.tobytes()).hexdigest()[:16]
    return GroundTruthFile(rows, name or "/".join(Path(path).parts[-3:]), digest, seqinfo)


# ------------------------------------------------------------------------------ compare
def compare_job(data: JobData, reader: Any, gt: GroundTruthFile, *, video_key: str) -> Comparison | None:
    """The job against `gt` (cached), with a warning for every sign of a mismatch."""
    meta, info, seq = data.meta, reader.info, gt.seqinfo or {}
    fps = float(meta.get("FrameRate") or seq.get("frameRate") or info.fps)
    table = data.table
    if "x1" not in table:
        table = results.add_pixels(table.copy(), int(seq.get("imWidth") or info.width),
                                   int(seq.get("imHeight") or info.height))
    width, height = table.attrs.get("width") or info.width, table.attrs.get("height") or info.height
    if seq and (seq["imWidth"], seq["imHeight"]) != (width, height):
        st.warning(f"The ground truth is for {seq['imWidth']}x{seq['imHeight']} frames but the results are "
                   f"{width}x{height}: is it the right file?")
    n_frames = len(reader.timestamps_ms)
    last = int(gt.rows[:, 0].max(initial=0))
    if last > n_frames:
        st.warning(f"The ground truth reaches frame {last} but the video has {n_frames} frames: is it the right file?")
    try:
        num_frames = max(int(seq.get("seqLength") or 0), n_frames, last)
        comp = _compare(f"{data.cache_key}|{gt.digest}|{video_key}", fps, num_frames, gt.name,
                        (int(width), int(height)), _table=table, _gt=gt.rows, _times=np.asarray(reader.timestamps_ms))
    except ValueError as exc:
        st.error(f"The results cannot be compared with this ground truth: {exc}")
        return None
    if comp.scores["TP"] == 0 and comp.scores["gt_dets"]:
        st.warning("No box matches the ground truth anywhere: is it the ground truth of this video?")
    return comp


@st.cache_data(max_entries=8, show_spinner="Comparing with the ground truth...")
def _compare(key: str, fps: float, num_frames: int, name: str, size: tuple[int, int], *, _table: pd.DataFrame,
             _gt: np.ndarray, _times: np.ndarray) -> Comparison:
    rows = gt_compare.mot_rows(_table, fps)
    events = gt_compare.compare(rows, _gt, fps=fps, frame_times_ms=_times)
    scores = metrics.score(rows, _gt, num_frames=num_frames)
    return Comparison(events, scores, gt_compare.person_summary(events), gt_compare.gt_summary(events), name, key, size)


# ------------------------------------------------------------------------------ header
def render_scores(comp: Comparison, *, key: str) -> None:
    """The scores against ground truth, one line of metrics."""
    s = comp.scores
    with st.container(border=True, key=key):
        st.markdown(f"**Against ground truth** `{comp.name}` · {s['true_ids']} people, {s['gt_dets']:,} boxes "
                    f"· TrackEval, IoU {metrics.IOU_THRESHOLD}")
        cols = st.columns(7)
        cols[0].metric("HOTA", f"{s['HOTA']:.1f}", help="Higher Order Tracking Accuracy (0-100): finding and following")
        cols[1].metric("MOTA", f"{s['MOTA']:.1f}", help="1 - (missed + false + ID switches) / ground-truth boxes, in %")
        cols[2].metric("IDF1", f"{s['IDF1']:.1f}", help="How long each person keeps one identity (0-100)")
        cols[3].metric("ID switches", f"{s['IDSW']:,}", help="A ground-truth person taken over by another Index")
        cols[4].metric("False boxes", f"{s['FP']:,}", help="Boxes matching no ground-truth person (FP)")
        cols[5].metric("Missed", f"{s['FN']:,}", help="Ground-truth boxes no box matched (FN)")
        cols[6].metric("IDs predicted / true", f"{s['predicted_ids']} / {s['true_ids']}")


# ------------------------------------------------------------------------------ viewer
@dataclass(frozen=True)
class ErrorView:
    overlay: bool
    matched: bool


def render_error_controls(comp: Comparison, n_frames: int, *, key: str,
                          jump: Callable[[np.ndarray, int, bool], None]) -> ErrorView:
    """Overlay toggles, which errors to visit, and previous/next error buttons that call
    `jump(error_frames, n_frames, forward)`."""
    st.session_state.setdefault(f"{key}_overlay", True)
    st.session_state.setdefault(f"{key}_matched", False)
    st.session_state.setdefault(f"{key}_kinds", list(gt_compare.ERRORS))
    st.session_state.setdefault(f"{key}_starts", True)
    show = st.toggle("Ground-truth errors", key=f"{key}_overlay")
    matched = st.toggle("Matched ground truth", key=f"{key}_matched", disabled=not show)
    kinds = st.pills("Errors to visit", gt_compare.ERRORS, selection_mode="multi", key=f"{key}_kinds",
                     format_func=LABELS.get) or list(gt_compare.ERRORS)
    starts = st.toggle("Only where an error starts", key=f"{key}_starts",
                       help="Skip frames where the same person is still missed or the same false box goes on")
    frames = gt_compare.error_frames(comp.events, kinds, starts_only=starts)
    st.button("Next error", key=f"{key}_next", icon=":material/arrow_forward:", help="Next frame with an error",
              shortcut="E", on_click=jump, args=(frames, n_frames, True), width="stretch")
    st.button("Previous error", key=f"{key}_prev", icon=":material/arrow_back:", help="Previous frame with an error",
              shortcut="Shift+E", on_click=jump, args=(frames, n_frames, False), width="stretch")
    st.caption(f"{len(frames):,} frames with {' / '.join(WORDS[k] for k in kinds)}{' starting' if starts else ''}")
    return ErrorView(show, matched and show)


def frame_events(comp: Comparison, frame: int) -> pd.DataFrame:
    """The events on 0-based `frame` (events are sorted by frame)."""
    frames = comp.events["frame"].to_numpy()
    return comp.events.iloc[np.searchsorted(frames, frame, "left"):np.searchsorted(frames, frame, "right")]


def annotator(comp: Comparison, frame: int, view: ErrorView) -> overlay.GroundTruthAnnotator:
    return overlay.GroundTruthAnnotator(frame_events(comp, frame), comp.size, matched=view.matched)


def frame_caption(comp: Comparison, frame: int) -> str:
    kinds = frame_events(comp, frame)["kind"].astype(str)
    counts = [f"{int((kinds == k).sum())} {WORDS[k]}" for k in gt_compare.ERRORS if (kinds == k).any()]
    return " · " + (", ".join(counts) if counts else "no errors")


def render_frame_errors(comp: Comparison, frame: int) -> None:
    """The errors on this frame, each with its reason."""
    ev = frame_events(comp, frame)
    ev = ev[ev["kind"] != gt_compare.TP]
    if ev.empty:
        return
    st.dataframe(pd.DataFrame({
        "Error": ev["kind"].astype(str).map(LABELS), "GT id": ev["gt_id"], "Person": ev["index"],
        "Why": gt_compare.describe(ev),
    }), hide_index=True, height=min(38 + 35 * len(ev), 250))


def legend() -> str:
    return ("Ground truth: dashed magenta = missed person · red tint = false box · "
            "yellow diamond = ID switch · green = matched ground truth")


# ------------------------------------------------------------------------------ tables
def render_gt_tables(comp: Comparison, *, key: str) -> None:
    """Per ground-truth person and per predicted person summaries, and the events."""
    st.markdown("**Ground-truth people** (status: MT mostly tracked, PT partly, ML mostly lost)")
    st.dataframe(comp.truths, hide_index=True, height=min(38 + 35 * len(comp.truths), 400), column_config={
        "recall": st.column_config.ProgressColumn("recall", format="percent", min_value=0, max_value=1),
        "indexes": st.column_config.ListColumn("tracked as Index")})
    st.markdown("**Predicted persons** (true: boxes on a ground-truth person; switches: taken over from another Index)")
    st.dataframe(comp.persons, hide_index=True, height=min(38 + 35 * len(comp.persons), 400), column_config={
        "precision": st.column_config.ProgressColumn("precision", format="percent", min_value=0, max_value=1),
        "gt_ids": st.column_config.ListColumn("ground-truth ids")})
    errors = comp.events[comp.events["kind"] != gt_compare.TP].assign(why=lambda e: gt_compare.describe(e))
    st.download_button("Errors as CSV", errors.to_csv(index=False).encode("utf-8"), file_name="errors.csv",
                       mime="text/csv", key=f"{key}_csv", icon=":material/download:")
