"""Streamlit page script (registered by app.py through st.navigation); the page itself is a function."""

from matcher.workbench.todo_page import todo_page

todo_page()
