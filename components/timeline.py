"""The timeline: one row per person with the spans where it is tracked and its
detections, a strip of detections per second, a cursor at the current time. Clicking a
span, a point or a bar returns its time. With ground truth, markers show its errors:
false boxes and identity switches on the person's row, missed people on their own row."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from peoplepath.overlay import color_hex

from .loading import JobData

MAX_POINTS = 2_500  # detection markers drawn; beyond that, evenly thinned (spans show all)
MISSED_ROW = "missed"  # the timeline row of ground-truth people no box matched


def build_figure(data: JobData, t_ms: int, persons: list[int] | None = None,
                 errors: pd.DataFrame | None = None) -> go.Figure:
    """Three traces whatever the number of persons (spans, detections, per-second
    strip), so the figure stays small and quick to rebuild at every scrub; three more
    for the `errors` (`gt_compare` events) when given."""
    seg, table = data.segments, data.table
    if persons is not None:
        seg = seg[seg["index"].isin(persons)]
        table = table[table["index"].isin(persons)]
    people = sorted(seg["index"].unique().tolist())
    thin = table.iloc[:: max(1, len(table) // MAX_POINTS)]
    spans = go.Bar(
        orientation="h", y=[f"#{i}" for i in seg["index"]], base=seg["start_ms"] / 1000,
        x=np.maximum((seg["end_ms"] - seg["start_ms"]) / 1000, 0.04), customdata=seg["start_ms"],
        marker=dict(color=[color_hex(i) for i in seg["index"]], opacity=0.45, line=dict(width=0)),
        hovertemplate="%{y}: %{base:.2f} s for %{x:.2f} s<extra></extra>", yaxis="y", showlegend=False,
    )
    points = go.Scatter(
        x=thin["timestamp_ms"] / 1000, y=[f"#{i}" for i in thin["index"]], customdata=thin["timestamp_ms"],
        mode="markers", marker=dict(color=[color_hex(i) for i in thin["index"]], size=5),
        hovertemplate="%{y} at %{x:.3f} s<extra></extra>", yaxis="y", showlegend=False,
    )
    ps = data.per_second
    strip = go.Bar(
        x=ps["second"] + 0.5, y=ps["detections"], customdata=ps["second"] * 1000, width=0.9,
        marker=dict(color="#8c9bb5"), hovertemplate="%{y} detections in second %{x:.0f}<extra></extra>", yaxis="y2",
        showlegend=False,
    )
    marks = _error_traces(errors, persons) if errors is not None else []
    rows = max(len(people), 1) + bool(marks)
    fig = go.Figure([spans, points, strip, *marks])
    fig.update_layout(
        height=min(120 + 22 * rows, 900) + (24 if marks else 0), margin=dict(l=10, r=10, t=34 if marks else 10, b=10),
        bargap=0.25, barmode="overlay", clickmode="event+select", dragmode="pan",
        showlegend=bool(marks), legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", font=dict(size=11)),
        yaxis=dict(domain=[0.24, 1.0], type="category", categoryorder="array",
                   categoryarray=[f"#{i}" for i in reversed(people)] + ([MISSED_ROW] if marks else []),
                   fixedrange=True),
        yaxis2=dict(domain=[0.0, 0.17], title=dict(text="det/s", font=dict(size=11)), fixedrange=True),
        xaxis=dict(title=dict(text="seconds"), anchor="y2", rangemode="tozero"),
        shapes=[dict(type="line", xref="x", yref="paper", x0=t_ms / 1000, x1=t_ms / 1000, y0=0, y1=1,
                     line=dict(color="#e4572e", width=2))],
    )
    return fig


def _error_traces(errors: pd.DataFrame, persons: list[int] | None) -> list[go.Scatter]:
    """Markers for false boxes and identity switches on their person's row, and one
    marker per frame with missed people on the MISSED_ROW."""
    kinds = errors["kind"].astype(str)
    out = []
    for kind, name, symbol, color, size in (("FP", "false box", "x-thin-open", "#d62728", 7),
                                            ("IDSW", "ID switch", "diamond", "#ffd000", 11)):
        ev = errors[kinds == kind]
        if persons is not None:
            ev = ev[ev["index"].isin(persons)]
        ev = ev.iloc[:: max(1, len(ev) // MAX_POINTS)]
        text = [f"gt {g} was #{p}" if kind == "IDSW" else "matches no person"
                for g, p in zip(ev["gt_id"], ev["prev_index"])]
        out.append(go.Scatter(
            x=ev["time_ms"] / 1000, y=[f"#{i}" for i in ev["index"]], customdata=ev["time_ms"], text=text, name=name,
            mode="markers", marker=dict(symbol=symbol, color=color, size=size, line=dict(color="#222", width=1.5)),
            hovertemplate=f"{name} %{{y}} at %{{x:.3f}} s: %{{text}}<extra></extra>", yaxis="y",
        ))
    missed = errors[kinds == "FN"].groupby("time_ms")["gt_id"].agg(lambda g: ", ".join(map(str, sorted(g))))
    out.insert(0, go.Scatter(
        x=missed.index / 1000, y=[MISSED_ROW] * len(missed), customdata=missed.index, text=missed.to_numpy(),
        name="missed (ground truth)", mode="markers", marker=dict(symbol="line-ns-open", color="#d400d4", size=12),
        hovertemplate="missed at %{x:.3f} s: gt %{text}<extra></extra>", yaxis="y",
    ))
    return out


def render_timeline(data: JobData, t_ms: int, *, key: str, persons: list[int] | None = None,
                    errors: pd.DataFrame | None = None, errors_key: str = "") -> int | None:
    """Draw the timeline (with ground-truth `errors`, named `errors_key`, when given);
    returns the time (ms) of a click not yet handled, else None."""
    if data.table.empty:
        st.info("No detections in this job.")
        return None
    event = st.plotly_chart(
        _figure(data, t_ms, persons, errors, errors_key, key=key), key=key, on_select="rerun", selection_mode="points",
        config={"displayModeBar": False, "scrollZoom": True},
    )
    return new_click(key, event)


def _figure(data: JobData, t_ms: int, persons: list[int] | None, errors: pd.DataFrame | None, errors_key: str,
            *, key: str) -> go.Figure:
    """The figure for these results and persons, built once per session and reused with
    only the cursor moved: building it costs ~100 ms, moving the cursor nothing."""
    memo_key = f"{key}_figure"
    ident = (data.cache_key, tuple(persons) if persons is not None else None, errors_key)
    memo = st.session_state.get(memo_key)
    if memo is None or memo[0] != ident:
        memo = (ident, build_figure(data, t_ms, persons, errors))
        st.session_state[memo_key] = memo
    fig = memo[1]
    fig.update_shapes(x0=t_ms / 1000, x1=t_ms / 1000)
    return fig


def new_click(key: str, event: Any = None) -> int | None:
    """The time (ms) of the timeline's latest click if it was not handled yet. Reads the
    chart's state from `st.session_state[key]` when `event` is not given, so the page can
    act on a click before it draws the frame (and draw the chart after it)."""
    event = event if event is not None else st.session_state.get(key)
    points = ((event or {}).get("selection") or {}).get("points") or []
    marker = json.dumps(points, sort_keys=True, default=str)
    last_key = f"{key}_last_selection"
    if not points or st.session_state.get(last_key) == marker:
        st.session_state[last_key] = marker
        return None
    st.session_state[last_key] = marker
    return point_time(points[0])


def point_time(point: dict) -> int | None:
    """The time (ms) of a clicked plotly point: its customdata, else its x in seconds."""
    custom = point.get("customdata")
    if isinstance(custom, list):
        custom = custom[0] if custom else None
    if custom is not None:
        return int(round(float(custom)))
    x = point.get("x")
    return int(round(float(x) * 1000)) if x is not None else None
