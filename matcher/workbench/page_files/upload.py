"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.upload_page import upload_page

upload_page()
