"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.detail_page import patent_detail_page

patent_detail_page()
