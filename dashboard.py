"""PeoplePath dashboard's server: `streamlit run dashboard.py`. Streamlit serves the page
(`app.py`, run per session) with one more route, the player's videos streamed from disk
(components/video_route.py)."""

import streamlit as st

from components import video_route

app = st.App("app.py", routes=[video_route.route()])
