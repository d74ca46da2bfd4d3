"""One module per page of the GUI; each has a ``render()`` function that app.py registers.

The folder is not called ``pages/``: Streamlit would serve a ``pages/`` folder beside the
entry script as old-style pages of its own when a session opens a page's address first.
"""
