"""专利–企业匹配工作台: `streamlit run app.py`.

Login gate first (nothing of the data is shown without it, and the page list is hidden), then the pages. The engine
(MATCHER_INDEX_DIR, default artifacts/index) and the tracking store (DATABASE_URL, default
artifacts/tracking.sqlite) are cached per server process with st.cache_resource. Settings for serving it
(loopback only, no error details in the browser) are in .streamlit/config.toml; see docs/workbench.md.
"""

import logging
from pathlib import Path

import streamlit as st

from matcher.threads import one_thread_per_query
from matcher.workbench.resources import get_matcher
from matcher.workbench.session import APP_TITLE, RUNNING_INDICATOR_CSS, login_gate, signed_in_user

PAGES = Path(__file__).resolve().parent / "matcher" / "workbench" / "page_files"

_log = logging.getLogger("matcher")  # login failures, users-file warnings and database errors go to the server's stderr
if not _log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)

st.set_page_config(page_title=APP_TITLE, page_icon="🔗", layout="wide")
st.html(RUNNING_INDICATOR_CSS)  # on every page, the login form included
# signed in (this session or a login cookie)? Without a login the page list is hidden and no page runs: the login
# form shows on the requested page's URL, so a shared link opens its page (and its ?pair= / ?patent= record) after it
navigation = st.navigation([
    st.Page(PAGES / "browse.py", title="匹配浏览", icon=":material/search:", default=True),
    st.Page(PAGES / "batch.py", title="夜间清单", icon=":material/list_alt:"),
    st.Page(PAGES / "tracking.py", title="推送跟踪", icon=":material/checklist:"),
    st.Page(PAGES / "overview.py", title="总览", icon=":material/bar_chart:"),
    st.Page(PAGES / "catalogue.py", title="需求目录", icon=":material/menu_book:"),
    st.Page(PAGES / "campaign.py", title="推广活动", icon=":material/campaign:"),
    st.Page(PAGES / "inventory.py", title="专利盘点", icon=":material/inventory_2:"),
    st.Page(PAGES / "todo.py", title="待办", icon=":material/alarm:"),
    st.Page(PAGES / "patent.py", title="专利详情", icon=":material/description:", url_path="patent"),
    st.Page(PAGES / "enterprise.py", title="企业详情", icon=":material/apartment:", url_path="enterprise"),
    st.Page(PAGES / "letter.py", title="推送函", icon=":material/mail:"),
    st.Page(PAGES / "upload.py", title="数据上传", icon=":material/upload_file:"),
], position="sidebar" if signed_in_user() else "hidden")
one_thread_per_query()  # this run's thread (and the process's BLAS) answers its queries with one thread each
login_gate()
try:
    get_matcher()  # warm the cached engine once per process
except Exception:  # noqa: BLE001 - the pages show the reason as a message
    pass
navigation.run()
