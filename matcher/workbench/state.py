"""The workbench's Streamlit session state in one place: every key a page stores or names a widget with, and the
typed helpers that read and write the session's own values.

Widget keys are session-state keys in Streamlit, so they are named here too; keys that depend on a record (a match
card, a tracking item) are made by the functions below. Pages never spell a key themselves.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import streamlit as st

from matcher.schema import Kind

if TYPE_CHECKING:
    from matcher.auth import User
    from matcher.tracking import Item

# ------------------------------------------------------------------ login and messages (every page)
USER = "user"  # the signed-in matcher.auth.User
FLASH = "_flash"  # messages queued by button callbacks for the next run
KEPT = "_kept"  # values of the widgets that `keep` carries across page switches
LOGIN_FORM = "login_form"
LOGIN_USER = "login_user"
LOGIN_PASSWORD = "login_password"
LOGOUT = "logout"
CLIENT = "_client"  # this browser session's key for the login throttle when the client's address is unknown
SIGNED_OUT = "_signed_out"  # why the session was ended (account removed, password changed), shown on the login form
LOGIN_TOKEN = "_login_token"  # this session's login token (matcher.auth.remember), kept in the browser's cookie
DROPPED_TOKEN = "_dropped_token"  # a login cookie this session must not sign in with (signed out, refused): deleted
URL_APPLIED = "_url_applied"  # URL parameter -> (its value, the pickers it was applied to; None: all): applied once

# ------------------------------------------------------------------ 匹配浏览 (browse)
MODE = "mode"  # matching direction radio: "enterprise", "patent" or "text"
FREE_TEXT_FORM = "free_text_form"
FREE_TEXT_INPUT = "free_text_input"  # the text area
FREE_TEXT = "free_text"  # the text last submitted
SEARCH_MEMO = "_search_memo"  # search arguments -> result, so reruns after a click do not search again
MIN_SCORE = "f_min_score"
HIDE_CONTACTED = "f_hide_contacted"
RESULT_COUNT = "f_k"
BROWSE_EXPORT = "browse_export"  # download buttons (suffixed _csv / _xlsx)

# ------------------------------------------------------------------ 夜间清单 (nightly lists)
BATCH_DIRECTION = "b_direction"
BATCH_SEARCH = "b_search"
BATCH_MAX_RANK = "b_max_rank"
BATCH_INDUSTRY = "b_industry"
BATCH_APPLICANT_TYPE = "b_applicant_type"
BATCH_REGION = "b_region"
BATCH_TIER = "b_tier"  # the nightly lists shown for these patent tiers
BATCH_LICENCE_FIT = "b_licence_fit"  # ... for these licence-fit levels
BATCH_HIDE_TRACKED = "b_hide_tracked"
BATCH_MAX_PER_TARGET = "b_max_per_target"  # the most lists one target is shown in (0: no cap)
BATCH_PICKED = "b_pick"  # the pairs chosen for the shortlist
BATCH_ADD = "b_add"
BATCH_EXPORT = "batch_export"
CHART_MOST_LISTED = "chart_most_listed"

# ------------------------------------------------------------------ 推送跟踪 (tracking)
TRACK_STATUS = "t_status"
TRACK_OWNER = "t_owner"
TRACK_SEARCH = "t_search"
TRACK_ITEM = "t_item"  # the item shown in the editor
LOADED_ITEMS = "loaded_items"  # item id -> the version the officer loaded (the edit form names it on save)
SHORTLIST_EXPORT = "shortlist_export"
UNSAVED_EDITS = "_unsaved_edits"  # item id -> what the officer typed in a save refused by a concurrent edit

# ------------------------------------------------------------------ 总览 (overview)
OVERVIEW_K = "o_k"
CHART_INDUSTRY = "chart_industry"
CHART_SCORES = "chart_scores"
CHART_FUNNEL = "chart_funnel"
CHART_STATUS_INDUSTRY = "chart_status_industry"
CHART_REPLY = "chart_reply"

# ------------------------------------------------------------------ 需求目录 / 推广活动 (office pages)
CAT_K = "cat_k"
CAT_SECTOR = "cat_sector"
CAT_COVERAGE = "cat_coverage"
CAT_FIT = "cat_fit"  # only pairs whose licence fit is 契合
CAT_EXPORT = "cat_export"
CAMP_OPEN_ONLY = "camp_open_only"
CAMP_PATENT = "camp_patent"
CAMP_N = "camp_n"
CAMP_LAMBDA = "camp_lambda"
CAMP_SKIP_DAYS = "camp_skip_days"
CAMP_WEEKLY_CAP = "camp_weekly_cap"
CAMP_BUILD = "camp_build"
CAMP_RESULT = "_camp_result"  # the campaign last built (matcher.office.campaigns.Campaign)
CAMP_ADD = "camp_add"
CAMP_EXPORT = "camp_export"
DIGEST_ENTERPRISE = "digest_enterprise"
DIGEST_M = "digest_m"
DIGEST_FIT = "digest_fit"
DIGEST_EXPORT = "digest_export"


def download(key: str, fmt: str) -> str:
    """One download button of a table (`key`: BROWSE_EXPORT, BATCH_EXPORT or SHORTLIST_EXPORT; fmt "csv" or "xlsx")."""
    return f"{key}_{fmt}"


def filter_key(target: Kind, column: str) -> str:
    """The browse page's sidebar filter of one column of the ranked side (e.g. "f_p_industry")."""
    return f"f_{'p' if Kind(target) == Kind.PATENT else 'e'}_{column}"


def record_search(kind: Kind) -> str:
    """The name search box of one side's record picker."""
    return f"q_{Kind(kind).value}_search"


def record_pick(kind: Kind) -> str:
    """The record picker of one side."""
    return f"q_{Kind(kind).value}"


def pair_tag(patent_id: str, enterprise_id: str) -> str:
    """The part of a match card's keys that names its pair."""
    return f"{patent_id}_{enterprise_id}"


def card(patent_id: str, enterprise_id: str) -> str:
    """The container of one match card."""
    return f"card_{pair_tag(patent_id, enterprise_id)}"


def add_pair(tag: str) -> str:
    """A match card's 加入推送清单 button (`tag`: `pair_tag`)."""
    return f"add_{tag}"


def move_item(tag: str, status: str) -> str:
    """A match card's button that moves its tracked pair to `status` (`tag`: `pair_tag`)."""
    return f"move_{tag}_{status}"


def reload_item(item_id: int) -> str:
    """The tracking editor's 重新加载 button."""
    return f"reload_{item_id}"


def item_tag(item_id: int, version: int) -> str:
    """The part of the tracking editor's keys that names the item version it edits."""
    return f"{item_id}_{version}"


def edit_form(tag: str) -> str:
    """The tracking editor's form (`tag`: `item_tag`)."""
    return f"edit_{tag}"


def edit_field(field: str, tag: str) -> str:
    """One input of the tracking editor: field "status", "reason", "owner", "next" or "note" (`tag`: `item_tag`)."""
    return f"e_{field}_{tag}"


# ------------------------------------------------------------------ typed access to the session's own values
def current_user() -> User | None:
    """The signed-in officer of this browser session, or None."""
    return st.session_state.get(USER)


def sign_in(user: User) -> None:
    st.session_state[USER] = user


def sign_out(reason: str = "") -> None:
    """End the session (every value of it); `reason` is shown on the login form."""
    st.session_state.clear()
    if reason:
        st.session_state[SIGNED_OUT] = reason


def take_sign_out_reason() -> str:
    """Why the session was ended, once ("" when it was not)."""
    return st.session_state.pop(SIGNED_OUT, "")


def login_token() -> str:
    """This session's login token ("" when none: not signed in, or login cookies are off)."""
    return st.session_state.get(LOGIN_TOKEN, "")


def set_login_token(token: str) -> None:
    st.session_state[LOGIN_TOKEN] = token


def dropped_token() -> str:
    """The login cookie this session must not sign in with and deletes ("" when none)."""
    return st.session_state.get(DROPPED_TOKEN, "")


def drop_token(token: str) -> None:
    st.session_state[DROPPED_TOKEN] = token


def url_applied() -> dict[str, tuple[str, set[str] | None]]:
    """URL parameter -> (its value, the pickers it was applied to in this session; None: every picker)."""
    return st.session_state.setdefault(URL_APPLIED, {})


def session_client() -> str:
    """A random key of this browser session (the login throttle's client when no address is known)."""
    if CLIENT not in st.session_state:
        st.session_state[CLIENT] = uuid.uuid4().hex[:12]
    return st.session_state[CLIENT]


def flash(level: str, message: str) -> None:
    """Queue a message for the next run of the page (used by button callbacks)."""
    st.session_state.setdefault(FLASH, []).append((level, message))


def take_flashes() -> list[tuple[str, str]]:
    """The queued messages (level, text), removed from the session."""
    return st.session_state.pop(FLASH, [])


def keep(key: str, default=None) -> str:
    """Make a widget keep its value across page switches (Streamlit drops the state of unrendered widgets).

    Call before creating the widget with this key and without a default value argument.
    """
    kept: dict = st.session_state.setdefault(KEPT, {})
    if key not in st.session_state:
        st.session_state[key] = kept.get(key, default)
    kept[key] = st.session_state[key]
    return key


def search_memo() -> dict:
    """The browse page's search memo (search arguments -> result)."""
    return st.session_state.setdefault(SEARCH_MEMO, {})


def unsaved_edits() -> dict[int, dict]:
    """Tracking item id -> the fields the officer typed in a save that a concurrent edit refused (kept visible)."""
    return st.session_state.setdefault(UNSAVED_EDITS, {})


def loaded_items() -> dict[int, Item]:
    """Tracking item id -> the version the officer loaded into the editor."""
    return st.session_state.setdefault(LOADED_ITEMS, {})


# ------------------------------------------------------------------ 详情 / 待办 / 批量 / 上传 / 推送函 (helper pages)
DETAIL_K = "d_k"  # how many matches a detail page lists
TODO_OWNER = "todo_owner"
TODO_EXPORT = "todo_export"
BULK_FORM = "t_bulk_form"
BULK_PICK = "t_bulk_pick"  # the records picked for a batch change
BULK_ALL = "t_bulk_all"  # pick every record the filters show
BULK_REASON = "t_bulk_reason"
BULK_SEEN = "_t_bulk_seen"  # record id -> the version shown when the officer picked it
BULK_STATUS = "t_bulk_status"
BULK_OWNER = "t_bulk_owner"
UPLOAD_KIND = "u_kind"
UPLOAD_FILE = "u_file"
UPLOAD_SHEET = "u_sheet"
UPLOAD_APPLY = "u_apply"
UPLOAD_REPORT = "_u_report"  # what the last upload added, replaced and skipped
LETTER_ITEMS = "l_items"
LETTER_TEMPLATE = "l_template"
LETTER_CONTACT = "l_contact"
LETTER_DOWNLOAD = "l_download"
LETTER_BUILD = "l_build"
LETTER_BUILT = "_l_built"  # (what was asked for, the DOCX bytes, the first letter's reason): built on request only
INVENTORY_TIERS = "inventory_tiers"  # the tiers the inventory page counts


def detail_search(kind: Kind) -> str:
    """The name search box of a detail page."""
    return f"d_{Kind(kind).value}_search"


def detail_pick(kind: Kind) -> str:
    """The record picker of a detail page."""
    return f"d_{Kind(kind).value}"


def terms_tag(patent_id: str, version: int) -> str:
    """The part of the terms editor's keys that names the patent and the terms version it edits."""
    return f"{patent_id}_{version}"


def terms_form(tag: str) -> str:
    return f"terms_{tag}"


def terms_field(field: str, tag: str) -> str:
    """One input of the terms editor: "mode", "price" or "level" (`tag`: `terms_tag`)."""
    return f"terms_{field}_{tag}"


def note_form(item_id: int) -> str:
    return f"note_form_{item_id}"


def note_input(item_id: int) -> str:
    return f"note_input_{item_id}"
