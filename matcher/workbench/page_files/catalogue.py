"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.catalogue_page import catalogue_page

catalogue_page()
