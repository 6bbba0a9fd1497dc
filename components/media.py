"""Data for the page's components by URL, through Streamlit's own media endpoint: what
is large and changes rarely is fetched by the browser once, not sent with every run."""

from __future__ import annotations


def json_url(payload: bytes, *, name: str) -> str:
    """The URL the browser fetches the JSON `payload` from (the same bytes give the same
    URL). Call it in every run that uses it: the endpoint keeps a file while a run of the
    session refers to it (a full run forgets the files of the one before)."""
    from streamlit import runtime

    return runtime.get_instance().media_file_mgr.add(payload, "application/json", f"peoplepath-{name}")
