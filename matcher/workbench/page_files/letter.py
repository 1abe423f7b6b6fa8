"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.letter_page import letter_page

letter_page()
