"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.batch_page import batch_page

batch_page()
