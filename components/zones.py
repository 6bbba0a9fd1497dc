"""Lines & zones: draw lines and zones on the frame (click points on it, or edit them as
numbers; load and save the geometry file), see them over the video, and read per line its
in/out counts and crossings over time, per zone its entries, occupancy over time and the
dwell of each person, and the flows between zones. The counting is
`peoplepath.analytics`; this module only renders and routes input.

The geometry lives in the session and in the deep link (`?geo=...`, compact), so a shared
link shows the same counts. Every change goes through a widget callback, so the viewer
(drawn earlier in the page) shows the geometry of the same run."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from peoplepath import analytics, overlay
from peoplepath.analytics import Geometry, GeometryError

from .loading import JobData
from .timeline import Marks
from .viewer import FRAME, frame_at_ms

LINK_PARAM = "geo"  # the deep link's query parameter
GEOMETRY = "zones_geometry"  # session key of the current Geometry
GRID = 80  # click targets per frame side: points land on a 1/GRID grid (then editable)
LINE_COLUMNS = ["name", "from x", "from y", "to x", "to y"]
ZONE_COLUMNS = ["name", "polygon (x y; x y; ...)"]


# ------------------------------------------------------------------------------ state
def current_geometry() -> Geometry:
    """The session's geometry; at the first run, the deep link's."""
    if GEOMETRY not in st.session_state:
        geometry = Geometry()
        if LINK_PARAM in st.query_params:
            try:
                geometry = analytics.decode_geometry(st.query_params[LINK_PARAM])
            except GeometryError as exc:
                st.session_state["zones_link_error"] = str(exc)
        st.session_state[GEOMETRY] = geometry
    return st.session_state[GEOMETRY]


def _set_geometry(geometry: Geometry, *, key: str, reset_editors: bool = True) -> None:
    st.session_state[GEOMETRY] = geometry
    if reset_editors:  # the number editors start again from the new geometry
        st.session_state[f"{key}_version"] = st.session_state.get(f"{key}_version", 0) + 1


def geometry_layers(*, key: str = "zones") -> list[overlay.Annotator]:
    """The annotators that draw the geometry (and the points being placed) over a frame."""
    geometry = current_geometry()
    draft = st.session_state.get(f"{key}_draft", [])
    if not st.session_state.get(f"{key}_on_video", True) or (geometry.empty and not draft):
        return []
    return [overlay.GeometryAnnotator(geometry, draft)]


@st.cache_data(max_entries=16, show_spinner=False)
def _analysis(cache_key: str, geometry_json: str, _table: pd.DataFrame, _geometry: Geometry) -> analytics.Analysis:
    return analytics.analyze(_table, _geometry)


def analysis_for(data: JobData) -> analytics.Analysis:
    """The analysis of the job for the current geometry (cached per job and geometry)."""
    geometry = current_geometry()
    return _analysis(data.cache_key, geometry.to_json(), data.table, geometry)


def crossing_times(data: JobData) -> np.ndarray:
    """Sorted crossing times (ms) of every line of the current geometry: markers the
    timeline can draw."""
    return analytics.crossing_times(analysis_for(data))


def crossing_marks(data: JobData) -> list[Marks]:
    """The current geometry's line crossings as timeline markers (none without lines)."""
    geometry = current_geometry()
    if not geometry.lines:
        return []
    times = crossing_times(data)
    return [Marks("line crossing", f"crossings:{geometry.to_json()}", [int(t) for t in times], symbol="x")]


# -------------------------------------------------------------------------- callbacks
def _on_frame_click(key: str) -> None:
    points = ((st.session_state.get(f"{key}_frame") or {}).get("selection") or {}).get("points") or []
    if points and points[0].get("x") is not None:
        x, y = float(points[0]["x"]), float(points[0]["y"])
        st.session_state.setdefault(f"{key}_draft", []).append((round(x, 4), round(y, 4)))


def _add_from_draft(kind: str, key: str) -> None:
    draft = st.session_state.get(f"{key}_draft", [])
    geometry = current_geometry()
    name = (st.session_state.get(f"{key}_name") or "").strip()
    taken = {x.name for x in (geometry.lines if kind == "line" else geometry.zones)}
    n = len(taken) + 1
    while not name or name in taken:
        name, n = f"{kind} {n}", n + 1
    doc = geometry.to_dict()
    if kind == "line":
        doc["lines"].append({"name": name, "from": list(draft[-2]), "to": list(draft[-1])})
    else:
        doc["zones"].append({"name": name, "polygon": [list(p) for p in draft]})
    try:
        _set_geometry(analytics.parse_geometry(doc), key=key)
    except GeometryError as exc:
        st.session_state[f"{key}_error"] = str(exc)
        return
    st.session_state[f"{key}_draft"] = []
    st.session_state[f"{key}_name"] = ""


def _clear_draft(key: str) -> None:
    st.session_state[f"{key}_draft"] = []


def _on_upload(key: str) -> None:
    upload = st.session_state.get(f"{key}_upload")
    if upload is None:
        return
    try:
        _set_geometry(analytics.load_geometry(upload.getvalue()), key=key)
    except GeometryError as exc:
        st.session_state[f"{key}_error"] = f"{upload.name}: {exc}"


def _on_edit(key: str) -> None:
    """The number editors changed: rebuild the geometry from both tables."""
    version = st.session_state.get(f"{key}_version", 0)
    lines = _edited(st.session_state.get(f"{key}_lines_{version}"), _lines_frame(current_geometry()))
    zones = _edited(st.session_state.get(f"{key}_zones_{version}"), _zones_frame(current_geometry()))
    try:
        doc = {
            "lines": [{"name": str(r["name"] or ""), "from": [r["from x"], r["from y"]], "to": [r["to x"], r["to y"]]}
                      for r in lines.to_dict("records")],
            "zones": [{"name": str(r["name"] or ""), "polygon": _parse_polygon(str(r[ZONE_COLUMNS[1]] or ""))}
                      for r in zones.to_dict("records")],
        }
        _set_geometry(analytics.parse_geometry(doc), key=key, reset_editors=False)
    except GeometryError as exc:
        st.session_state[f"{key}_error"] = str(exc)


def _edited(state: Any, base: pd.DataFrame) -> pd.DataFrame:
    """A data_editor's table: its starting table with the edits in its session state."""
    df = base.copy()
    if not state:
        return df
    for row, changes in state.get("edited_rows", {}).items():
        for col, value in changes.items():
            df.at[int(row), col] = value
    added = pd.DataFrame(state.get("added_rows", []), columns=df.columns)
    df = pd.concat([df, added], ignore_index=True) if len(added) else df
    return df.drop(index=[int(r) for r in state.get("deleted_rows", [])], errors="ignore").reset_index(drop=True)


def _parse_polygon(text: str) -> list[list[float]]:
    try:
        return [[float(v) for v in part.replace(",", " ").split()] for part in text.split(";") if part.strip()]
    except ValueError as exc:
        raise GeometryError(f"A polygon is points 'x y; x y; ...' in ratios: {exc}") from exc


def _lines_frame(geometry: Geometry) -> pd.DataFrame:
    return pd.DataFrame([[ln.name, *ln.start, *ln.end] for ln in geometry.lines], columns=LINE_COLUMNS)


def _zones_frame(geometry: Geometry) -> pd.DataFrame:
    return pd.DataFrame([[z.name, "; ".join(f"{x:.4g} {y:.4g}" for x, y in z.polygon)] for z in geometry.zones],
                        columns=ZONE_COLUMNS)


def _step_crossing(frames: np.ndarray, n: int, forward: bool) -> None:
    cur = int(st.session_state.get(FRAME, 0))
    later = frames[frames > cur] if forward else frames[frames < cur]
    if len(later):
        st.session_state[FRAME] = int(min(max(later.min() if forward else later.max(), 0), n - 1))


# ----------------------------------------------------------------------------- render
def frame_figure(image: np.ndarray, draft: list[tuple[float, float]]) -> go.Figure:
    """The frame (BGR, geometry already drawn) in ratio coordinates, with an invisible
    grid of click targets and the points being placed."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (960, round(960 * h / w))) if w > 960 else image
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    source = "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()
    gx, gy = np.meshgrid(np.linspace(0, 1, GRID + 1), np.linspace(0, 1, GRID + 1))
    fig = go.Figure([
        go.Image(source=source, x0=0, y0=0, dx=1 / small.shape[1], dy=1 / small.shape[0], hoverinfo="skip"),
        go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", marker=dict(size=9, opacity=0), name="click",
                   hovertemplate="x %{x:.3f}, y %{y:.3f}<extra>click to add a point</extra>", showlegend=False),
    ])
    fig.update_layout(
        height=round(720 * h / w) + 20, margin=dict(l=0, r=0, t=0, b=0), clickmode="event+select", dragmode=False,
        xaxis=dict(range=[0, 1], showgrid=False, zeroline=False, showticklabels=False, fixedrange=True),
        yaxis=dict(range=[1, 0], showgrid=False, zeroline=False, showticklabels=False, fixedrange=True,
                   scaleanchor="x", scaleratio=h / w),
    )
    return fig


def _crossings_chart(analysis: analytics.Analysis) -> go.Figure:
    fig = go.Figure()
    for name, c in analysis.crossings.items():
        for direction, dash in (("in", "solid"), ("out", "dot")):
            t = c.loc[c["direction"] == direction, "timestamp_ms"].to_numpy() / 1000
            fig.add_scatter(x=np.r_[0, t], y=np.arange(len(t) + 1), mode="lines", line=dict(shape="hv", dash=dash),
                            name=f"{name} {direction}", customdata=np.r_[0, t * 1000],
                            hovertemplate=f"{name} {direction}: %{{y}} by %{{x:.2f}} s<extra></extra>")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="seconds",
                      yaxis_title="crossings so far", legend=dict(orientation="h"))
    return fig


def _occupancy_chart(analysis: analytics.Analysis) -> go.Figure:
    fig = go.Figure()
    for name, s in analysis.zones.items():
        occ = s.occupancy
        fig.add_scatter(x=np.r_[0, occ.times / 1000], y=np.r_[0, occ.value], mode="lines", line=dict(shape="hv"),
                        name=name, hovertemplate=f"{name}: %{{y}} at %{{x:.2f}} s<extra></extra>")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="seconds",
                      yaxis_title="persons inside", legend=dict(orientation="h"))
    return fig


def _sankey(flows: pd.DataFrame, zones: list[str]) -> go.Figure:
    pos = {z: i for i, z in enumerate(zones)}
    used = flows[flows["persons"] > 0]
    fig = go.Figure(go.Sankey(
        node=dict(label=[f"{z} (first)" for z in zones] + [f"{z} (later)" for z in zones], pad=18),
        link=dict(source=[pos[f] for f in used["from"]], target=[len(zones) + pos[t] for t in used["to"]],
                  value=used["persons"].tolist()),
    ))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10))
    return fig


def render_zones(data: JobData, reader: Any, *, key: str) -> analytics.Analysis | None:
    """The Lines & zones panel; returns the analysis for the current geometry."""
    geometry = current_geometry()
    if st.session_state.pop("zones_link_error", None):
        st.warning("The link's lines and zones could not be read; starting without them.")
    error = st.session_state.pop(f"{key}_error", None)
    if error:
        st.error(f"Not changed: {error}")
    draft = st.session_state.setdefault(f"{key}_draft", [])
    version = st.session_state.setdefault(f"{key}_version", 0)
    n = len(reader.timestamps_ms)
    frame = reader.frame_at_index(int(min(max(st.session_state.get(FRAME, 0), 0), n - 1)))
    image = overlay.render(frame.image, overlay.View(data.table.iloc[0:0]), [overlay.GeometryAnnotator(geometry, draft)])

    left, right = st.columns([3, 2], gap="medium")
    with left:
        st.plotly_chart(frame_figure(image, draft), key=f"{key}_frame", on_select=lambda: _on_frame_click(key),
                        selection_mode="points", config={"displayModeBar": False})
        st.caption(f"Click the frame to place points ({len(draft)} placed): two make a line, three or more a zone. "
                   "Ratios of the frame; the arrow points to a line's `in` side.")
    with right:
        st.text_input("Name", key=f"{key}_name", placeholder="line 1 / zone 1")
        cols = st.columns(3)
        cols[0].button("Add line", key=f"{key}_add_line", on_click=_add_from_draft, args=("line", key),
                       disabled=len(draft) != 2, width="stretch", help="from point 1 to point 2")
        cols[1].button("Add zone", key=f"{key}_add_zone", on_click=_add_from_draft, args=("zone", key),
                       disabled=len(draft) < 3, width="stretch")
        cols[2].button("Clear points", key=f"{key}_clear", on_click=_clear_draft, args=(key,), disabled=not draft,
                       width="stretch")
        st.markdown("**Lines**")
        st.data_editor(_lines_frame(geometry), key=f"{key}_lines_{version}", num_rows="dynamic", hide_index=True,
                       on_change=_on_edit, args=(key,), width="stretch")
        st.markdown("**Zones**")
        st.data_editor(_zones_frame(geometry), key=f"{key}_zones_{version}", num_rows="dynamic", hide_index=True,
                       on_change=_on_edit, args=(key,), width="stretch")
        files = st.columns(2)
        files[0].download_button("Save geometry file", geometry.to_json(), "geometry.json", "application/json",
                                 key=f"{key}_save", width="stretch", disabled=geometry.empty)
        st.file_uploader("Load a geometry file", type=["json"], key=f"{key}_upload", on_change=_on_upload, args=(key,))
        st.toggle("Show on the video", key=f"{key}_on_video", value=True)

    _sync_link(geometry)
    if geometry.empty:
        st.caption("No lines or zones yet: place points on the frame, type them in, or load a geometry file.")
        return None
    analysis = analysis_for(data)
    _render_results(analysis, reader, n, key=key)
    return analysis


def _render_results(analysis: analytics.Analysis, reader: Any, n: int, *, key: str) -> None:
    report = analysis.report()
    if report["lines"]:
        st.markdown("#### Lines")
        cols = st.columns(min(len(report["lines"]), 4) + 1)
        for col, line in zip(cols, report["lines"]):
            col.metric(f"{line['name']}: in / out", f"{line['in']} / {line['out']}")
        frames = np.unique([frame_at_ms(reader, t) for t in analytics.crossing_times(analysis)]).astype(np.int64)
        with cols[-1]:
            step = st.columns(2)
            step[0].button("Crossing", key=f"{key}_prev_crossing", icon=":material/skip_previous:", width="stretch",
                           on_click=_step_crossing, args=(frames, n, False), disabled=not len(frames),
                           help="Previous crossing (Shift+X)", shortcut="Shift+X")
            step[1].button("Crossing", key=f"{key}_next_crossing", icon=":material/skip_next:", width="stretch",
                           on_click=_step_crossing, args=(frames, n, True), disabled=not len(frames),
                           help="Next crossing (X)", shortcut="X", icon_position="right")
        st.plotly_chart(_crossings_chart(analysis), key=f"{key}_crossings_chart", config={"displayModeBar": False})
    if report["zones"]:
        st.markdown("#### Zones")
        cols = st.columns(min(len(report["zones"]), 4))
        for i, zone in enumerate(report["zones"]):
            cols[i % len(cols)].metric(f"{zone['name']}: entries / exits", f"{zone['entries']} / {zone['exits']}",
                                       help=f"peak occupancy {zone['peak_occupancy']}")
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(_occupancy_chart(analysis), key=f"{key}_occupancy_chart", config={"displayModeBar": False})
        with right:
            dwell = pd.DataFrame([{"Zone": z["name"], "Person": f"#{d['index']}", "Dwell (s)": d["ms"] / 1000}
                                  for z in report["zones"] for d in z["dwell"]], columns=["Zone", "Person", "Dwell (s)"])
            st.dataframe(dwell, hide_index=True, height=260, key=f"{key}_dwell",
                         column_config={"Dwell (s)": st.column_config.NumberColumn(format="%.2f")})
    if len(report["zones"]) > 1:
        st.markdown("#### Flows between zones")
        left, right = st.columns([3, 2])
        zones = [z["name"] for z in report["zones"]]
        with left:
            if analysis.flows["persons"].sum():
                st.plotly_chart(_sankey(analysis.flows, zones), key=f"{key}_sankey", config={"displayModeBar": False})
            else:
                st.caption("Nobody went from one zone to another.")
        with right:
            st.dataframe(analysis.flows.rename(columns={"from": "From", "to": "Later in", "persons": "Persons"}),
                         hide_index=True, key=f"{key}_flows")


def _sync_link(geometry: Geometry) -> None:
    """Keep `?geo=...` following the geometry."""
    if geometry.empty:
        if LINK_PARAM in st.query_params:
            del st.query_params[LINK_PARAM]
        return
    link = analytics.encode_geometry(geometry)
    if st.query_params.get(LINK_PARAM) != link:
        st.query_params[LINK_PARAM] = link
