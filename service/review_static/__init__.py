"""The review page's template, script and style sheet (package data; no build step)."""
