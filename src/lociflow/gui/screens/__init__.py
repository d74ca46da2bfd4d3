"""One module per page of the GUI; each has a ``render()`` function."""
