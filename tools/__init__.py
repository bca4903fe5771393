"""Development tools of the project (not part of the installed product)."""
