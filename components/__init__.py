"""The dashboard's panels: one file each, `render_x(data, *, key) -> selection`."""
