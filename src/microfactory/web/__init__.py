"""The web dashboard: pages, templates, static assets."""
