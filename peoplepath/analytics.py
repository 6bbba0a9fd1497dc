"""What people pathing is used for: counts across lines, zones, dwell and flows, computed
from the results table (`results.build_table`) in a few vectorised passes.

One set of definitions (also in the README):

- A person's anchor in a detection is the bottom centre of its person box (the feet);
  detections without a person box do not move it. A person's path is its anchors in time
  order, consecutive anchors joined by straight segments.
- Geometry is in ratios of the frame (as `BoundingBox`):
  `{"lines": [{"name", "from": [x, y], "to": [x, y]}], "zones": [{"name", "polygon": [[x, y], ...]}]}`.
- Line crossing: a path segment that properly intersects the line segment (touching it
  is not crossing it). With `d = to - from` and `p` a point relative to `from`,
  side(p) = sign(d.x * p.y - d.y * p.x) in image coordinates (y down); a crossing from
  side -1 to +1 is `in`, from +1 to -1 is `out`. Its time is interpolated along the
  segment between the two detections' timestamps (rounded to the millisecond).
- Zone (inside = in the polygon's interior): a person enters when an anchor inside
  follows one outside, and exits on the reverse; dwell is the time between consecutive
  detections whose anchors are both inside; occupancy at a time is the number of persons
  whose latest detection at or before it (no older than 1 s) is inside.
- Flows: for each ordered pair of zones, the persons who were in the first and later
  (at a later detection) in the second.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import shapely

FRESH_MS = 1000  # occupancy counts a person whose latest detection is at most this old
Point = tuple[float, float]


class GeometryError(ValueError):
    """A geometry file (or its compact link form) that is not lines and zones in frame ratios."""


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Line:
    name: str
    start: Point  # "from" in the file
    end: Point  # "to"


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[Point, ...]


@dataclass(frozen=True)
class Geometry:
    lines: tuple[Line, ...] = ()
    zones: tuple[Zone, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The geometry file's document."""
        return {
            "lines": [{"name": ln.name, "from": list(ln.start), "to": list(ln.end)} for ln in self.lines],
            "zones": [{"name": z.name, "polygon": [list(p) for p in z.polygon]} for z in self.zones],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @property
    def empty(self) -> bool:
        return not self.lines and not self.zones


def parse_geometry(doc: Any) -> Geometry:
    """Validate a geometry document (parsed JSON) into a Geometry; GeometryError says
    what is wrong and where."""
    if not isinstance(doc, dict):
        raise GeometryError(f"A geometry file is a JSON object with 'lines' and 'zones'; got a {type(doc).__name__}")
    unknown = set(doc) - {"lines", "zones"}
    if unknown:
        raise GeometryError(f"Unknown key(s) {', '.join(sorted(map(str, unknown)))}: a geometry file has 'lines' and 'zones'")
    lines_doc, zones_doc = doc.get("lines", []), doc.get("zones", [])
    for key, value in (("lines", lines_doc), ("zones", zones_doc)):
        if not isinstance(value, list):
            raise GeometryError(f"'{key}' must be a list; got a {type(value).__name__}")
    lines = tuple(_line(i, item) for i, item in enumerate(lines_doc))
    zones = tuple(_zone(i, item) for i, item in enumerate(zones_doc))
    for kind, items in (("line", lines), ("zone", zones)):
        names = [it.name for it in items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise GeometryError(f"Two {kind}s are named {dupes[0]!r}: names must be unique")
    return Geometry(lines, zones)


def load_geometry(source: str | Path | bytes) -> Geometry:
    """A geometry file from a path, or its JSON text / bytes."""
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        if not path.is_file():
            raise GeometryError(f"No such geometry file: {path}")
        source = path.read_bytes()
    try:
        doc = json.loads(source)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeometryError(f"The geometry file is not JSON: {exc}") from exc
    return parse_geometry(doc)


def encode_geometry(geometry: Geometry) -> str:
    """A compact, URL-safe form of the geometry (for a deep link): the document with
    4-decimal ratios, deflated, base64url without padding."""
    doc = {
        "l": [[ln.name, *_round(ln.start), *_round(ln.end)] for ln in geometry.lines],
        "z": [[z.name, *[c for p in z.polygon for c in _round(p)]] for z in geometry.zones],
    }
    raw = zlib.compress(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_geometry(text: str) -> Geometry:
    """The inverse of `encode_geometry` (GeometryError for a damaged link)."""
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        doc = json.loads(raw)
        lines = [{"name": r[0], "from": r[1:3], "to": r[3:5]} for r in doc.get("l", [])]
        zones = [{"name": r[0], "polygon": [r[i:i + 2] for i in range(1, len(r), 2)]} for r in doc.get("z", [])]
    except (ValueError, TypeError, AttributeError, IndexError, zlib.error) as exc:
        raise GeometryError(f"The link's geometry cannot be read: {exc}") from exc
    return parse_geometry({"lines": lines, "zones": zones})


def _round(p: Point) -> list[float]:
    return [round(float(c), 4) for c in p]


def _name(where: str, item: Any) -> str:
    if not isinstance(item, dict):
        raise GeometryError(f"{where} must be an object; got a {type(item).__name__}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise GeometryError(f"{where} needs a non-empty 'name'")
    return name.strip()


def _point(where: str, value: Any) -> Point:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in value)):
        raise GeometryError(f"{where} must be a point [x, y]; got {value!r}")
    x, y = float(value[0]), float(value[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise GeometryError(f"{where} = [{x}, {y}] is outside the frame: points are ratios of the frame, 0..1")
    return x, y


def _line(i: int, item: Any) -> Line:
    name = _name(f"lines[{i}]", item)
    where = f"line {name!r}"
    for key in ("from", "to"):
        if key not in item:
            raise GeometryError(f"{where} needs '{key}': [x, y]")
    start, end = _point(f"{where} 'from'", item["from"]), _point(f"{where} 'to'", item["to"])
    if start == end:
        raise GeometryError(f"{where} has the same 'from' and 'to': a line needs two distinct points")
    return Line(name, start, end)


def _zone(i: int, item: Any) -> Zone:
    name = _name(f"zones[{i}]", item)
    where = f"zone {name!r}"
    poly = item.get("polygon")
    if not isinstance(poly, list) or len(poly) < 3:
        raise GeometryError(f"{where} needs a 'polygon' of at least 3 points [[x, y], ...]")
    points = tuple(_point(f"{where} point {k + 1}", p) for k, p in enumerate(poly))
    shape = shapely.Polygon(points)
    if shape.area <= 0:
        raise GeometryError(f"{where} has no area: its points are on one line")
    if not shape.is_valid:
        raise GeometryError(f"{where} crosses itself: {shapely.is_valid_reason(shape)}")
    return Zone(name, points)


# ------------------------------------------------------------------------------ analysis
@dataclass(frozen=True)
class Paths:
    """Every person's anchors, ordered by person then time: `index`, `t` (ms), `x`, `y`
    (ratios), and `same[k]`, whether anchor k+1 continues anchor k's person."""

    index: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    same: np.ndarray


def anchors(table: pd.DataFrame) -> Paths:
    """The anchors of the detections with a person box (bottom centre), sorted by person
    then time (ties keep the table's order)."""
    boxed = table["has_box"].to_numpy(bool)
    idx = table["index"].to_numpy(np.int64)[boxed]
    ts = table["timestamp_ms"].to_numpy(np.int64)[boxed]
    x = (table["left"].to_numpy(np.float64) + table["width"].to_numpy(np.float64) / 2)[boxed]
    y = (table["top"].to_numpy(np.float64) + table["height"].to_numpy(np.float64))[boxed]
    order = np.lexsort((ts, idx))  # stable
    idx = idx[order]
    return Paths(idx, ts[order], x[order], y[order], idx[1:] == idx[:-1])


def crossings(paths: Paths, line: Line) -> pd.DataFrame:
    """The crossings of `line`: columns index, timestamp_ms, direction ("in" / "out"),
    in time order."""
    fx, fy = line.start
    dx, dy = line.end[0] - fx, line.end[1] - fy
    ax, ay, bx, by = paths.x[:-1], paths.y[:-1], paths.x[1:], paths.y[1:]
    side_a = np.sign(dx * (ay - fy) - dy * (ax - fx))
    side_b = np.sign(dx * (by - fy) - dy * (bx - fx))
    ex, ey = bx - ax, by - ay  # the path segment a -> b
    ends_from = np.sign(ex * (fy - ay) - ey * (fx - ax))
    ends_to = np.sign(ex * (line.end[1] - ay) - ey * (line.end[0] - ax))
    hit = paths.same & (side_a * side_b < 0) & (ends_from * ends_to < 0)
    k = np.flatnonzero(hit)
    s = ((fx - ax[k]) * dy - (fy - ay[k]) * dx) / (ex[k] * dy - ey[k] * dx)  # where on a -> b
    ta, tb = paths.t[:-1][k], paths.t[1:][k]
    ts = np.floor(ta + s * (tb - ta) + 0.5).astype(np.int64)
    out = pd.DataFrame({"index": paths.index[k], "timestamp_ms": ts,
                        "direction": np.where(side_b[k] > 0, "in", "out")})
    return out.sort_values(["timestamp_ms", "index"], kind="stable").reset_index(drop=True)


def inside(paths: Paths, zone: Zone) -> np.ndarray:
    """Whether each anchor is in the zone's interior."""
    return shapely.contains_xy(shapely.Polygon(zone.polygon), paths.x, paths.y)


@dataclass(frozen=True)
class Occupancy:
    """Persons inside a zone over time, as a step function: `value[k]` holds from
    `times[k]` (ms) until the next time."""

    times: np.ndarray
    value: np.ndarray

    @property
    def peak(self) -> int:
        return int(self.value.max()) if len(self.value) else 0

    def at(self, t_ms: Any) -> np.ndarray:
        """Occupancy at each time of `t_ms` (ms)."""
        pos = np.searchsorted(self.times, np.asarray(t_ms, np.int64), side="right") - 1
        return np.where(pos >= 0, self.value[np.maximum(pos, 0)] if len(self.value) else 0, 0)


def occupancy(paths: Paths, ins: np.ndarray) -> Occupancy:
    """Each inside anchor counts from its time until the person's next anchor or until
    it is more than FRESH_MS old, whichever comes first (integer milliseconds)."""
    nxt = np.full(len(paths.t), np.iinfo(np.int64).max)
    nxt[:-1] = np.where(paths.same, paths.t[1:], nxt[:-1])
    start = paths.t[ins]
    stop = np.minimum(nxt[ins], paths.t[ins] + FRESH_MS + 1)  # first ms no longer counted
    keep = stop > start
    times = np.concatenate([start[keep], stop[keep]])
    delta = np.concatenate([np.ones(keep.sum(), np.int64), -np.ones(keep.sum(), np.int64)])
    uniq, inv = np.unique(times, return_inverse=True)
    return Occupancy(uniq, np.cumsum(np.bincount(inv, weights=delta, minlength=len(uniq))).astype(np.int64))


@dataclass(frozen=True)
class ZoneStats:
    zone: Zone
    entries: int
    exits: int
    dwell: pd.DataFrame  # index, ms: every person with an anchor inside
    occupancy: Occupancy
    first_in: dict[int, int] = field(repr=False)  # person -> first time inside
    last_in: dict[int, int] = field(repr=False)


def zone_stats(paths: Paths, zone: Zone) -> ZoneStats:
    ins = inside(paths, zone)
    same = paths.same
    entries = int(np.count_nonzero(same & ~ins[:-1] & ins[1:]))
    exits = int(np.count_nonzero(same & ins[:-1] & ~ins[1:]))
    both = same & ins[:-1] & ins[1:]
    idx_in, t_in = paths.index[ins], paths.t[ins]  # by person then time
    persons, first_at = np.unique(idx_in, return_index=True)
    last_at = np.r_[first_at[1:], len(idx_in)][:len(first_at)] - 1
    dwell_person = np.searchsorted(persons, paths.index[:-1][both])
    ms = np.bincount(dwell_person, weights=np.diff(paths.t)[both], minlength=len(persons)).astype(np.int64)
    return ZoneStats(
        zone, entries, exits, pd.DataFrame({"index": persons, "ms": ms}), occupancy(paths, ins),
        first_in=dict(zip(persons.tolist(), t_in[first_at].tolist())),
        last_in=dict(zip(persons.tolist(), t_in[last_at].tolist())),
    )


def flows(stats: Sequence[ZoneStats]) -> pd.DataFrame:
    """For each ordered pair of zones, the persons inside the first at some time and
    inside the second at a later one. Columns from, to, persons."""
    people = sorted({p for s in stats for p in s.first_in})
    pos = {p: i for i, p in enumerate(people)}
    first = np.full((len(people), len(stats)), np.inf)
    last = np.full((len(people), len(stats)), -np.inf)
    for j, s in enumerate(stats):
        rows = np.array([pos[p] for p in s.first_in], np.int64)
        first[rows, j] = list(s.first_in.values())
        last[rows, j] = [s.last_in[p] for p in s.first_in]
    later = (first[:, :, None] < last[:, None, :]).sum(axis=0)  # [from, to]
    pairs = [(a, b) for a in range(len(stats)) for b in range(len(stats)) if a != b]
    return pd.DataFrame({"from": [stats[a].zone.name for a, _ in pairs], "to": [stats[b].zone.name for _, b in pairs],
                         "persons": [int(later[a, b]) for a, b in pairs]}, columns=["from", "to", "persons"])


@dataclass(frozen=True)
class Analysis:
    """Everything `analyze` found: per line its crossings, per zone its statistics, the flows."""

    geometry: Geometry
    crossings: dict[str, pd.DataFrame]
    zones: dict[str, ZoneStats]
    flows: pd.DataFrame

    def report(self) -> dict[str, Any]:
        """The `analyze` command's JSON document."""
        lines = []
        for line in self.geometry.lines:
            c = self.crossings[line.name]
            lines.append({
                "name": line.name,
                "in": int((c["direction"] == "in").sum()),
                "out": int((c["direction"] == "out").sum()),
                "crossings": [{"index": int(i), "timestamp_ms": int(t), "direction": str(d)}
                              for i, t, d in zip(c["index"], c["timestamp_ms"], c["direction"])],
            })
        zones = [{
            "name": s.zone.name, "entries": s.entries, "exits": s.exits, "peak_occupancy": s.occupancy.peak,
            "dwell": [{"index": int(i), "ms": int(m)} for i, m in zip(s.dwell["index"], s.dwell["ms"])],
        } for s in self.zones.values()]
        flows = [{"from": f, "to": t, "persons": int(n)} for f, t, n in
                 zip(self.flows["from"], self.flows["to"], self.flows["persons"])]
        return {"lines": lines, "zones": zones, "flows": flows}

    def crossing_table(self) -> pd.DataFrame:
        """All crossings of all lines: line, index, timestamp_ms, direction, in time order."""
        parts = [c.assign(line=name) for name, c in self.crossings.items()]
        cols = ["line", "index", "timestamp_ms", "direction"]
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True)[cols].sort_values(["timestamp_ms", "line", "index"], kind="stable")

    def occupancy_per_second(self, end_ms: int | None = None) -> pd.DataFrame:
        """Occupancy of each zone at every whole second from 0 to `end_ms` (default the
        last time any zone changes): columns zone, second, persons."""
        if end_ms is None:
            end_ms = max((int(s.occupancy.times[-1]) for s in self.zones.values() if len(s.occupancy.times)), default=0)
        seconds = np.arange(0, end_ms // 1000 + 1, dtype=np.int64)
        parts = [pd.DataFrame({"zone": name, "second": seconds, "persons": s.occupancy.at(seconds * 1000)})
                 for name, s in self.zones.items()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["zone", "second", "persons"])

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report as tables (the `--csv` files), plus occupancy per second per zone."""
        rep = self.report()
        return {
            "lines": pd.DataFrame([{k: ln[k] for k in ("name", "in", "out")} for ln in rep["lines"]],
                                  columns=["name", "in", "out"]),
            "crossings": self.crossing_table(),
            "zones": pd.DataFrame([{k: z[k] for k in ("name", "entries", "exits", "peak_occupancy")}
                                   for z in rep["zones"]], columns=["name", "entries", "exits", "peak_occupancy"]),
            "dwell": pd.DataFrame([{"zone": z["name"], **d} for z in rep["zones"] for d in z["dwell"]],
                                  columns=["zone", "index", "ms"]),
            "flows": self.flows,
            "occupancy": self.occupancy_per_second(),
        }


def analyze(table: pd.DataFrame, geometry: Geometry) -> Analysis:
    """Crossings, zone statistics and flows of the results table for `geometry`."""
    paths = anchors(table)
    stats = [zone_stats(paths, z) for z in geometry.zones]
    return Analysis(
        geometry,
        {ln.name: crossings(paths, ln) for ln in geometry.lines},
        {s.zone.name: s for s in stats},
        flows(stats),
    )


def crossing_times(analysis: Analysis, lines: Iterable[str] | None = None) -> np.ndarray:
    """Sorted unique crossing times (ms) of the named lines (default all)."""
    names = list(analysis.crossings) if lines is None else list(lines)
    parts = [analysis.crossings[n]["timestamp_ms"].to_numpy(np.int64) for n in names if n in analysis.crossings]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
