"""Streamlit pages of Aliados; ``common`` and ``ally_form`` are shared helpers, not pages."""
