"""The timeline, readable at any length: an overview of the whole job (people on screen
over time) with the chosen window marked, and the window in detail: a row per person
present in it (every label, ordered by first appearance, duration or Index, a chosen
person first), the spans where each is tracked and its detections, and a strip of
detections per second binned to the chart's resolution. Clicking a span, a point or a
bar returns its time. With ground truth, markers show its errors; `Marks` adds others.

The figure depends only on (job, window, order, filter, markers) and is cached; it is
drawn in the browser by components.timeline_view, which fetches it once per change, so
a step sends only the cursor's time and the view (zoom, pan) of a window survives steps."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from peoplepath.overlay import color_hex

from .loading import JobData
from .timeline_view import render_timeline_view

MAX_POINTS = 2_500  # detection markers drawn in the window; beyond that, evenly thinned
MISSED_ROW = "missed"  # the timeline row of ground-truth people no box matched
BINS = 400  # about one bar per 2-3 px of the strip and the overview
ROW_PX, STRIP_PX, OVERVIEW_PX, GAP_PX = 18, 56, 48, 34
WINDOWS_S = {"1 min": 60, "5 min": 300, "15 min": 900, "1 h": 3600, "Whole job": 0}
ORDERS = ("First appearance", "Duration", "Index")
MAX_ROWS = 150  # rows drawn at most (a longer window of a crowd says so and shows the first)
MAX_ROWS_DEFAULT = 40  # the default window is the longest with about this many persons in it
CURSOR = "#e4572e"
# The rows' labels get a left margin from their length (7 px a character at 11 px is
# wider than plotly's measured 6), not plotly's automargin: that measures the labels
# and draws the chart a second time, 0.4 of its 1 s first draw in Chromium here.
LABEL_PX, MIN_LEFT_PX = 7, 30


@dataclass(frozen=True)
class Marks:
    """Extra markers at times (ms), on their person's row when `persons` gives each
    one's Index, else on the detections strip; `key` names them for the figure cache
    (change it when the marks change)."""

    name: str
    key: str
    times_ms: Sequence[int]
    persons: Sequence[int] | None = None
    symbol: str = "triangle-up"
    color: str = "#2ca02c"


_PERIOD = next(k for k in range(1, 256) if color_hex(k) == color_hex(0))  # color_hex cycles a palette


def by_color(indexes: Any) -> list[tuple[str, np.ndarray]]:
    """(colour, mask) for each colour `color_hex` gives these person indexes: one trace
    per colour instead of a colour per point (plotly checks those one by one: slow)."""
    codes = np.asarray(indexes, dtype=np.int64) % _PERIOD
    return [(color_hex(int(c)), codes == c) for c in np.unique(codes)]


def duration_ms(data: JobData) -> int:
    """The video's duration (VideoMetadata), else just past the last detection."""
    last = int(data.table["timestamp_ms"].max()) + 1 if len(data.table) else 1
    return max(int(data.meta.get("DurationMillis") or 0), last)


def default_window(data: JobData) -> str:
    """The longest window holding about MAX_ROWS_DEFAULT persons at a time."""
    n, dur = len(data.summary), duration_ms(data)
    if n <= MAX_ROWS_DEFAULT:
        return "Whole job"
    mean_stay = float(data.summary["duration_ms"].mean())
    for name in ("1 h", "15 min", "5 min"):
        if n * (WINDOWS_S[name] * 1000 + mean_stay) / dur <= MAX_ROWS_DEFAULT:
            return name
    return "1 min"


def window_bounds(t_ms: int, window_s: int, dur_ms: int) -> tuple[int, int]:
    """The window (ms) holding `t_ms`: windows tile the job from 0; 0 s means all of it."""
    if not window_s or window_s * 1000 >= dur_ms:
        return 0, dur_ms
    length = window_s * 1000
    start = min(max(int(t_ms), 0) // length * length, max(dur_ms - length, 0))
    return start, min(start + length, dur_ms)


def bin_ms(span_ms: int) -> int:
    """A round bin width giving about BINS bins over `span_ms`, at least a second."""
    raw = max(span_ms / BINS, 1000.0)
    step = 10 ** math.floor(math.log10(raw))
    return int(next(m * step for m in (1, 2, 5, 10) if m * step >= raw))


def ordered_rows(data: JobData, present: np.ndarray, order: str, chosen: int | None) -> list[int]:
    """The persons `present`, in `order`, the `chosen` one first when present."""
    s = data.summary.set_index("index").loc[present]
    if order == "Duration":
        s = s.sort_values(["duration_ms", "first_ms"], ascending=[False, True], kind="stable")
    elif order == "First appearance":
        s = s.sort_values(["first_ms"], kind="stable")
    else:
        s = s.sort_index()
    rows = [int(i) for i in s.index]
    if chosen is not None and chosen in rows:
        rows.remove(chosen)
        rows.insert(0, chosen)
    return rows


def _binned(ts: np.ndarray, start: int, end: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Left edges (ms) and counts of `ts` in bins of `width` over [start, end)."""
    n = max(1, -(-(end - start) // width))
    counts = np.bincount(((ts[(ts >= start) & (ts < end)] - start) // width).astype(np.int64), minlength=n)[:n]
    return start + np.arange(n, dtype=np.int64) * width, counts


def build_figure(data: JobData, window: tuple[int, int], *, order: str = ORDERS[0], chosen: int | None = None,
                 persons: list[int] | None = None, errors: pd.DataFrame | None = None,
                 marks: Sequence[Marks] = ()) -> go.Figure:
    """The overview and the `window` (ms) in detail, for all persons or only `persons`.
    Its size depends on the window's persons and the bins, not on the job's length."""
    w0, w1 = window
    dur = duration_ms(data)
    table, seg = data.table, data.segments
    if persons is not None:
        table = table[table["index"].isin(persons)]
        seg = seg[seg["index"].isin(persons)]
    ts_all = table["timestamp_ms"].to_numpy()
    lo, hi = np.searchsorted(ts_all, w0, "left"), np.searchsorted(ts_all, w1, "left")  # the table runs in time order
    win = table.iloc[lo:hi]
    seg = seg[(seg["end_ms"] >= w0) & (seg["start_ms"] < w1)]
    rows = ordered_rows(data, seg["index"].unique(), order, chosen) if len(seg) else []
    note = f" · showing {MAX_ROWS} of the window's {len(rows):,} persons: choose a shorter window" \
        if len(rows) > MAX_ROWS else ""
    rows = rows[:MAX_ROWS]
    labels = {i: f"#{i}" for i in rows}
    if note:
        seg, win_rows = seg[seg["index"].isin(rows)], win[win["index"].isin(rows)]
    else:
        win_rows = win

    start, end = np.maximum(seg["start_ms"].to_numpy(), w0), np.minimum(seg["end_ms"].to_numpy(), w1)
    y_seg = seg["index"].map(labels).to_numpy()
    spans = [go.Bar(
        orientation="h", y=y_seg[m], base=start[m] / 1000, x=np.maximum((end[m] - start[m]) / 1000, 0.04),
        customdata=start[m], marker=dict(color=color, opacity=0.45, line=dict(width=0)),
        hovertemplate="%{y}: %{base:.2f} s for %{x:.2f} s<extra></extra>", xaxis="x", yaxis="y", showlegend=False,
    ) for color, m in by_color(seg["index"])]
    thin = win_rows.iloc[:: max(1, len(win_rows) // MAX_POINTS)]
    t_thin, y_thin = thin["timestamp_ms"].to_numpy(), thin["index"].map(labels).to_numpy()
    points = [go.Scatter(
        x=t_thin[m] / 1000, y=y_thin[m], customdata=t_thin[m], mode="markers", marker=dict(color=color, size=5),
        hovertemplate="%{y} at %{x:.3f} s<extra></extra>", xaxis="x", yaxis="y", showlegend=False,
    ) for color, m in by_color(thin["index"])]
    width = bin_ms(w1 - w0)
    left, counts = _binned(win["timestamp_ms"].to_numpy(), w0, w1, width)
    strip = go.Bar(
        x=(left + width / 2) / 1000, y=counts / (width / 1000), customdata=left, width=width / 1000 * 0.9,
        marker=dict(color="#8c9bb5", line=dict(width=0)), xaxis="x", yaxis="y2", showlegend=False,
        hovertemplate=f"%{{y:.1f}} detections/s from %{{x:.0f}} s ({width / 1000:g} s bins)<extra></extra>",
    )
    fps = float(data.meta.get("FrameRate") or 0)
    o_width = bin_ms(dur)
    o_left, o_counts = _binned(ts_all, 0, dur, o_width)
    density = o_counts / (o_width / 1000 * fps) if fps else o_counts / (o_width / 1000)
    overview = go.Bar(
        x=(o_left + o_width / 2) / 1000, y=density, customdata=o_left, width=o_width / 1000,
        marker=dict(color="#5b6f95", line=dict(width=0)), xaxis="x2", yaxis="y3", showlegend=False,
        hovertemplate=("%{y:.1f} people on screen" if fps else "%{y:.1f} detections/s")
        + f" from %{{x:.0f}} s ({o_width / 1000:g} s bins)<extra></extra>",
    )
    extra = _error_traces(errors, persons, w0, w1, labels) if errors is not None else []
    extra += [_mark_trace(m, w0, w1, labels) for m in marks]
    missed = errors is not None
    n_rows = max(len(rows), 1) + missed

    top = 34 if extra else 10
    rows_px = ROW_PX * n_rows + 12
    height = top + rows_px + GAP_PX + STRIP_PX + GAP_PX + OVERVIEW_PX + 28
    plot = height - top - 28
    left = max(MIN_LEFT_PX, 12 + LABEL_PX * max((len(t) for t in [*labels.values(), MISSED_ROW if missed else ""]),
                                                default=0))

    def frac(px: float) -> float:
        return px / plot

    o_top, s_top = frac(OVERVIEW_PX), frac(OVERVIEW_PX + GAP_PX + STRIP_PX)
    r_bottom = frac(OVERVIEW_PX + GAP_PX + STRIP_PX + GAP_PX)
    fig = go.Figure([*spans, *points, strip, overview, *extra])
    fig.update_layout(
        height=height, margin=dict(l=left, r=10, t=top, b=28), bargap=0.25, barmode="overlay",
        clickmode="event+select", dragmode="pan", uirevision=f"{data.cache_key}|{w0}|{w1}",
        showlegend=bool(extra), legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", font=dict(size=11)),
        yaxis=dict(domain=[r_bottom, 1.0], type="category", categoryorder="array", dtick=1,
                   categoryarray=([MISSED_ROW] if missed else []) + [labels[i] for i in reversed(rows)],
                   range=[-0.5, n_rows - 0.5], fixedrange=True, tickfont=dict(size=11)),
        yaxis2=dict(domain=[frac(OVERVIEW_PX + GAP_PX), s_top], title=dict(text="det/s", font=dict(size=11)),
                    fixedrange=True, rangemode="tozero"),
        yaxis3=dict(domain=[0.0, o_top], title=dict(text="people" if fps else "det/s", font=dict(size=11)),
                    fixedrange=True, rangemode="tozero"),
        xaxis=dict(anchor="y2", range=[w0 / 1000, w1 / 1000], minallowed=0, maxallowed=dur / 1000,
                   title=dict(text=f"seconds · window {w0 / 1000:,.0f}-{w1 / 1000:,.0f} s{note}", font=dict(size=11),
                              standoff=2)),
        xaxis2=dict(anchor="y3", range=[0, dur / 1000], fixedrange=True, title=dict(
            text=f"whole job: {dur / 1000:,.0f} s", font=dict(size=11), standoff=2)),
        shapes=[dict(type="rect", xref="x2", yref="paper", x0=w0 / 1000, x1=w1 / 1000, y0=0, y1=o_top,
                     fillcolor="rgba(228,87,46,0.12)", line=dict(color=CURSOR, width=1))],
    )
    return fig


def _error_traces(errors: pd.DataFrame, persons: list[int] | None, w0: int, w1: int,
                  labels: dict[int, str]) -> list[go.Scatter]:
    """Markers for false boxes and identity switches on their person's row, and one
    marker per frame with missed people on the MISSED_ROW, in the window."""
    errors = errors[(errors["time_ms"] >= w0) & (errors["time_ms"] <= w1)]
    kinds = errors["kind"].astype(str)
    out = []
    for kind, name, symbol, color, size in (("FP", "false box", "x-thin-open", "#d62728", 7),
                                            ("IDSW", "ID switch", "diamond", "#ffd000", 11)):
        ev = errors[(kinds == kind) & errors["index"].isin(list(labels))]
        if persons is not None:
            ev = ev[ev["index"].isin(persons)]
        ev = ev.iloc[:: max(1, len(ev) // MAX_POINTS)]
        text = [f"gt {g} was #{p}" if kind == "IDSW" else "matches no person"
                for g, p in zip(ev["gt_id"], ev["prev_index"])]
        out.append(go.Scatter(
            x=ev["time_ms"] / 1000, y=[f"#{i}" for i in ev["index"]], customdata=ev["time_ms"], text=text, name=name,
            mode="markers", marker=dict(symbol=symbol, color=color, size=size, line=dict(color="#222", width=1.5)),
            hovertemplate=f"{name} %{{y}} at %{{x:.3f}} s: %{{text}}<extra></extra>", xaxis="x", yaxis="y",
        ))
    missed = errors[kinds == "FN"].groupby("time_ms")["gt_id"].agg(lambda g: ", ".join(map(str, sorted(g))))
    out.insert(0, go.Scatter(
        x=missed.index / 1000, y=[MISSED_ROW] * len(missed), customdata=missed.index, text=missed.to_numpy(),
        name="missed (ground truth)", mode="markers", marker=dict(symbol="line-ns-open", color="#d400d4", size=12),
        hovertemplate="missed at %{x:.3f} s: gt %{text}<extra></extra>", xaxis="x", yaxis="y",
    ))
    return out


def _mark_trace(marks: Marks, w0: int, w1: int, labels: dict[int, str]) -> go.Scatter:
    t = np.asarray(marks.times_ms, dtype=np.int64)
    keep = (t >= w0) & (t <= w1)
    if marks.persons is not None:
        who = np.asarray(marks.persons)
        keep &= np.isin(who, list(labels))
        y: Any = [labels[int(i)] for i in who[keep]]
        axis = "y"
    else:
        y, axis = [0] * int(keep.sum()), "y2"
    return go.Scatter(x=t[keep] / 1000, y=y, customdata=t[keep], name=marks.name, mode="markers", xaxis="x", yaxis=axis,
                      marker=dict(symbol=marks.symbol, color=marks.color, size=10, line=dict(color="#222", width=1)),
                      hovertemplate=f"{marks.name} at %{{x:.3f}} s<extra></extra>")


def render_timeline(data: JobData, t_ms: int, *, key: str, persons: list[int] | None = None,
                    errors: pd.DataFrame | None = None, errors_key: str = "", marks: Sequence[Marks] = ()) -> int | None:
    """Draw the timeline with its cursor at `t_ms` (with ground-truth `errors`, named
    `errors_key`, and extra `marks` when given); returns the time (ms) of a click not
    yet handled, else None."""
    if data.table.empty:
        st.info("No detections in this job.")
        return None
    st.session_state.setdefault(f"{key}_window", default_window(data))
    chart = st.container(key=f"{key}_box")  # above its controls: frame and chart fit one screen
    cols = st.columns([1, 1, 1, 2])
    window_name = cols[0].selectbox("Window", list(WINDOWS_S), key=f"{key}_window")
    order = cols[1].selectbox("Rows by", ORDERS, key=f"{key}_order")
    cols[2].number_input("Go to person (Index)", min_value=0, value=None, step=1, key=f"{key}_goto",
                         placeholder="Index", on_change=_go_to_person, args=(data, key))
    missing = st.session_state.pop(f"{key}_goto_missing", None)
    if missing is not None:
        st.warning(f"No person has Index {missing}")
    window = window_bounds(t_ms, WINDOWS_S[window_name], duration_ms(data))
    chosen = st.session_state.get(f"{key}_chosen")
    n_persons = len(data.summary)
    cols[3].caption(f"{n_persons:,} persons over {duration_ms(data) / 1000:,.0f} s; rows: the persons in the window "
                    f"{window[0] / 1000:,.0f}-{window[1] / 1000:,.0f} s. Drag to pan, scroll to zoom, click to jump.")
    figure_json, height = _figure(data, window, order, chosen, persons, errors, errors_key, marks, key=key)
    with chart:
        render_timeline_view(figure_json=figure_json, t_ms=t_ms, height=height, key=key)
    return new_click(key)


def _go_to_person(data: JobData, key: str) -> None:
    """The Go-to-person box: jump to the person's first appearance and put its row first."""
    index = st.session_state.get(f"{key}_goto")
    if index is None:
        return
    hit = data.summary[data.summary["index"] == int(index)]
    if hit.empty:
        st.session_state[f"{key}_goto_missing"] = int(index)
        return
    st.session_state[f"{key}_chosen"] = int(index)
    st.session_state[f"{key}_jump_ms"] = int(hit["first_ms"].iloc[0])


def _figure(data: JobData, window: tuple[int, int], order: str, chosen: int | None, persons: list[int] | None,
            errors: pd.DataFrame | None, errors_key: str, marks: Sequence[Marks], *, key: str) -> tuple[bytes, int]:
    """The figure (JSON, with its cursor lines) and its height for these results, window,
    order, persons and markers, built once (a few per session kept) and sent unchanged
    while only the cursor moves."""
    memo: dict = st.session_state.setdefault(f"{key}_figures", {})
    ident = (data.cache_key, window, order, chosen, tuple(persons) if persons is not None else None, errors_key,
             tuple(m.key for m in marks))
    fig = memo.get(ident)
    if fig is None:
        built = build_figure(data, window, order=order, chosen=chosen, persons=persons, errors=errors, marks=marks)
        add_cursor(built, window[0])
        fig = (built.to_json().encode(), int(built.layout.height))
        while len(memo) >= 6:
            memo.pop(next(iter(memo)))
        memo[ident] = fig
    return fig


def add_cursor(fig: go.Figure, t_ms: int) -> None:
    """The cursor as two lines named "cursor" (window and overview) at `t_ms`, in place;
    the browser moves them."""
    lay, t = fig.layout, t_ms / 1000
    line = dict(color=CURSOR, width=2)
    fig.add_shape(type="line", name="cursor", xref="x", yref="paper", x0=t, x1=t, y0=lay.yaxis2.domain[0], y1=1,
                  line=line)
    fig.add_shape(type="line", name="cursor", xref="x2", yref="paper", x0=t, x1=t, y0=0, y1=lay.yaxis3.domain[1],
                  line=line)


def new_click(key: str) -> int | None:
    """The time (ms) of the timeline's latest click (or go-to-person jump) if it was not
    handled yet, read from the chart's report in `st.session_state[key]`, so the page can
    act on a click before it draws the frame (and draw the chart after it)."""
    jump = st.session_state.pop(f"{key}_jump_ms", None)
    click = st.session_state.get(key) or {}
    marker = json.dumps(click, sort_keys=True, default=str)
    last_key = f"{key}_last_click"
    if click.get("t_ms") is None or st.session_state.get(last_key) == marker:
        st.session_state[last_key] = marker
        return jump
    st.session_state[last_key] = marker
    return int(click["t_ms"])
