"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.campaign_page import campaign_page

campaign_page()
