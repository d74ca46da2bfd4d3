"""The web GUI: a Streamlit app with one page per stage.

The GUI is a thin shell over the Python API, like the CLI: each page builds a stage
config from a form (generated from the pydantic models in :mod:`lociflow.config`),
validates it with the same models, and runs the stage in a background process
(:mod:`lociflow.gui.jobs`) that writes exactly what the CLI would write. Start it with
``lociflow gui``.
"""
