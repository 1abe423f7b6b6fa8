"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.inventory_page import inventory_page

inventory_page()
