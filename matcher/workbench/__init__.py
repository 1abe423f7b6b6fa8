"""The Streamlit workbench for technology-transfer officers (view layer only: no matching logic).

`app.py` at the project root is the entry point (`streamlit run app.py`); each page is a function in its own module
(`browse_page`, `batch_page`, `tracking_page`, `overview_page`) over the shared login and session helpers of
`session`, registered through the small page files in `page_files/`.
"""
