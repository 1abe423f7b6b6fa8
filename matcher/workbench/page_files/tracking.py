"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.tracking_page import tracking_page

tracking_page()
