"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.views import batch_page

batch_page()
