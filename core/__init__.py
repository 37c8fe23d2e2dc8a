"""Aliados: the clients and suppliers module. Every rule lives in this package.

Nothing here imports Streamlit; the pages in ``pages/`` only lay out widgets
and call these modules.
"""
