"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.browse_page import browse_page

browse_page()
