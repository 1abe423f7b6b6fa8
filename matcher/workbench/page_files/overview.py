"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.overview_page import overview_page

overview_page()
