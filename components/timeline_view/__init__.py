"""The timeline in the browser: a Streamlit component (components.v1 with a static
index.html and timeline.js, no build step) that draws a plotly figure with plotly.js
and moves its cursor without redrawing it.

The figure's JSON reaches the browser by URL, through Streamlit's media endpoint, and
is fetched again only when it changes (a new window, order, filter or markers); a step
sends only the cursor's time, so the chart's zoom and pan survive steps. plotly.js is
its basic bundle (scatter and bar: 1.1 MB against 3.5 MB; 0.14 s against 1.08 s to run
on the main thread the page's other frames share), installed by scripts/setup.sh with npm
from frontend/package.json. Where npm was not there, it is the full bundle the plotly
package ships, served by a second component declared on that package folder (a
component serves only the files under its own path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import plotly
import streamlit.components.v1 as components

from components.media import json_url

FRONTEND = Path(__file__).parent / "frontend"
BASIC_BUNDLE = Path("node_modules/plotly.js-basic-dist-min/plotly-basic.min.js")  # under FRONTEND

_component = components.declare_component("peoplepath_timeline", path=str(FRONTEND))
_plotly_files = components.declare_component(
    "peoplepath_plotly_js", path=str(Path(plotly.__file__).parent / "package_data"))
# plotly.js relative to the timeline's own frame: the basic bundle when setup installed it.
PLOTLY_JS = (BASIC_BUNDLE.as_posix() if (FRONTEND / BASIC_BUNDLE).is_file()
             else f"../{_plotly_files.name}/plotly.min.js")


def render_timeline_view(*, figure_json: bytes, t_ms: int, height: int, key: str,
                         on_change: Callable[[], None] | None = None) -> Any:
    """The chart of `figure_json` (a plotly figure whose cursor lines are the shapes
    named "cursor") with its cursor at `t_ms`, `height` px tall. Its latest click lands
    in `st.session_state[key]` as {"t_ms", "person", "n", "at"} and calls `on_change`."""
    return _component(figure=json_url(figure_json, name=f"timeline-{key}"), t=t_ms / 1000, height=int(height),
                      plotly=PLOTLY_JS, key=key, default=None, on_change=on_change)
