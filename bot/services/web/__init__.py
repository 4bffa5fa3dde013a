"""The web page's use cases: signing in, and the overviews (tree, trends, national picture)."""
