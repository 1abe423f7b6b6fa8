"""The Streamlit workbench for technology-transfer officers (view layer only: no matching logic).

`app.py` at the project root is the entry point (`streamlit run app.py`); the pages live in
`matcher.workbench.views` and are registered through the small page files in `page_files/`.
"""
