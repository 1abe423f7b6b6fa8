"""The workbench pages: login gate, two-way match browsing, outreach tracking and the overview (the nightly lists:
`batch_page.py`).

Every page checks the signed-in user first (nothing of the data is rendered without a login) and
turns a MatcherError into one message instead of a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pandas as pd
import streamlit as st

from matcher.auth import User, authenticate
from matcher.engine import Matcher, Query, SearchResult
from matcher.errors import MatcherError
from matcher.index.collection import CONTENT
from matcher.schema import Kind
from matcher.tracking import (
    REASONS,
    REJECTED,
    STATUSES,
    ConcurrentEditError,
    Item,
    TrackingError,
    TrackingStore,
    allowed_next,
    major_industry,
)
from matcher.workbench import charts
from matcher.workbench.export import CSV_MIME, XLSX_MIME, to_csv_bytes, to_xlsx_bytes
from matcher.workbench.frames import (
    Pair,
    activity_line,
    has_activity,
    clean,
    contacted_targets,
    local_time,
    make_pairs,
    option_values,
    pair_frame,
    shortlist_frame,
    text_query_id,
)
from matcher.workbench.highlight import highlight_terms
from matcher.workbench.resources import get_matcher, get_store, get_users, index_dir, warm_matcher

APP_TITLE = "专利–企业匹配工作台"
SELECT_LIMIT = 200  # options listed in a name picker at once (the search box narrows thousands down)
OVERVIEW_MAX_QUERIES = 2000  # enterprises / demands ranked for the overview charts (cached per index)
DIRECTIONS = {"enterprise": "企业/需求 → 专利", "patent": "专利 → 企业", "text": "新需求文本 → 专利"}

_CSS = """
<style>
.mw-text {max-height: 11em; overflow-y: auto; font-size: 0.92rem; line-height: 1.55;
          border-left: 3px solid #e5e7eb; padding-left: .6em;}
.mw-text mark, .mw-sent mark {background: #fde68a; padding: 0 .1em; border-radius: 2px;}
.mw-terms span {display: inline-block; background: #fef3c7; border: 1px solid #f59e0b; border-radius: 9px;
                padding: 0 .5em; margin: 0 .25em .2em 0; font-size: .85rem;}
.mw-sent {background: #eff6ff; border-radius: 6px; padding: .4em .7em; font-size: .92rem;}
.mw-meta {color: #374151; font-size: .88rem;}
</style>
"""


# ----------------------------------------------------------------------------- session helpers
def current_user() -> User | None:
    """The signed-in officer of this browser session, or None."""
    return st.session_state.get("user")


def flash(level: str, message: str) -> None:
    """Queue a message for the next run of the page (used by button callbacks)."""
    st.session_state.setdefault("_flash", []).append((level, message))


def show_flash() -> None:
    for level, message in st.session_state.pop("_flash", []):
        getattr(st, level)(message)


def keep(key: str, default=None) -> str:
    """Make a widget keep its value across page switches (Streamlit drops the state of unrendered widgets).

    Call before creating the widget with this key and without a default value argument.
    """
    kept: dict = st.session_state.setdefault("_kept", {})
    if key not in st.session_state:
        st.session_state[key] = kept.get(key, default)
    kept[key] = st.session_state[key]
    return key


def login_gate() -> User:
    """Return the signed-in user; otherwise render the login form and stop the script (no data shown)."""
    user = current_user()
    if user is not None:
        with st.sidebar:
            st.caption(f"已登录：{user.label}")
            if st.button("退出登录", key="logout"):
                st.session_state.clear()
                st.rerun()
        return user
    warm_matcher()  # load the engine while the officer types the password
    st.title(APP_TITLE)
    st.caption("技术经理人工作台：双向匹配浏览、推送跟踪、总览与导出。请先登录。")
    try:
        users = get_users()
    except MatcherError as exc:
        st.error(str(exc))
        st.stop()
    with st.form("login_form"):
        username = st.text_input("用户名", key="login_user")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        user = authenticate(username, password, users)
        if user is None:
            st.error("用户名或密码错误")
        else:
            st.session_state["user"] = user
            st.rerun()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


def require_user() -> User:
    """The signed-in user (stops the page when there is none)."""
    user = current_user()
    if user is None:
        st.warning("请先登录")
        st.stop()
    return user


def page(fn: Callable[[], None]) -> Callable[[], None]:
    """Decorate a page: check the login, show queued messages, turn MatcherError into a message."""

    @functools.wraps(fn)
    def wrapper() -> None:
        require_user()
        st.markdown(_CSS, unsafe_allow_html=True)
        show_flash()
        try:
            fn()
        except MatcherError as exc:
            st.error(str(exc))

    return wrapper


def _engine() -> Matcher:
    try:
        return get_matcher()
    except MatcherError as exc:
        st.error(f"匹配引擎无法加载：{exc}")
        st.info(f"索引目录：{index_dir()}（环境变量 MATCHER_INDEX_DIR）。可运行：`matcher build --patents data/demo/patents.csv "
                "--enterprises data/demo/enterprises.csv`")
        st.stop()
        raise


def tracking_store() -> TrackingStore:
    """The tracking store, or an error message that stops the page when the database cannot be used."""
    try:
        return get_store()
    except MatcherError as exc:
        st.error(f"跟踪数据库无法使用：{exc}")
        st.stop()
        raise


def download_buttons(frame: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and XLSX downloads of exactly the frame shown above them."""
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("导出 CSV", to_csv_bytes(frame), file_name=f"{stem}.csv", mime=CSV_MIME, key=f"{key}_csv",
                       disabled=frame.empty)
    c2.download_button("导出 XLSX", to_xlsx_bytes(frame, stem), file_name=f"{stem}.xlsx", mime=XLSX_MIME,
                       key=f"{key}_xlsx", disabled=frame.empty)


# ----------------------------------------------------------------------------- browse
def sidebar_multiselect(label: str, options: list[str], key: str, help: str | None = None) -> list[str]:
    """A sidebar filter that keeps its choice across pages and drops choices no longer offered ([] without options)."""
    if not options:
        return []
    keep(key, [])
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    return st.sidebar.multiselect(label, options, key=key, placeholder="不限", help=help)


def sidebar_filters(matcher: Matcher, target: Kind) -> tuple[dict[str, list[str]], float | None, bool, int]:
    """The sidebar filters of the ranked side: (engine filters, minimum score, hide contacted, k)."""
    recs = matcher.collection(target).records
    st.sidebar.header("筛选")
    filters: dict[str, list[str]] = {}
    if target == Kind.PATENT:
        filters["industry"] = sidebar_multiselect("行业", option_values(recs, "industry", major=True), "f_p_industry")
        filters["region"] = sidebar_multiselect("地区", option_values(recs, "region"), "f_p_region")
        filters["applicant_type"] = sidebar_multiselect("申请人类型", option_values(recs, "applicant_type"), "f_p_applicant_type",
                                                 help="如只看高校专利，选「高校」")
        filters["license_mode"] = sidebar_multiselect("许可方式", option_values(recs, "license_mode"), "f_p_license_mode")
        filters["maturity"] = sidebar_multiselect("成熟度 / 等级", option_values(recs, "maturity"), "f_p_maturity")
    else:
        filters["industry"] = sidebar_multiselect("行业", option_values(recs, "industry", major=True), "f_e_industry")
        filters["region"] = sidebar_multiselect("地区", option_values(recs, "region"), "f_e_region")
        filters["size"] = sidebar_multiselect("企业规模", option_values(recs, "size"), "f_e_size")
        filters["cooperation"] = sidebar_multiselect("合作方式", option_values(recs, "cooperation", split=","), "f_e_cooperation")
    min_score = st.sidebar.number_input("最低综合分", value=None, step=0.1, placeholder="不限", key=keep("f_min_score"),
                                        help="综合分为语义分、关键词分、条目分与短语分融合后的分数，越高越相关")
    hide_contacted = st.sidebar.checkbox("隐藏已联系的组合", key=keep("f_hide_contacted", False), help="已推送及之后状态的组合不再列出")
    k = st.sidebar.slider("结果数", min_value=5, max_value=50, step=5, key=keep("f_k", 10))
    return {c: v for c, v in filters.items() if v}, min_score, hide_contacted, k


def _pick_record(matcher: Matcher, kind: Kind) -> str | None:
    """Name search + picker over one side (copes with thousands of records)."""
    recs = matcher.collection(kind).records
    name_col = "title" if kind == Kind.PATENT else "name"
    label = "专利" if kind == Kind.PATENT else "企业/需求"
    names = dict(zip(recs["id"].astype(str), recs[name_col].map(clean)))
    c1, c2 = st.columns([1, 2])
    needle = c1.text_input(f"按名称或编号查找{label}", key=keep(f"q_{kind.value}_search", ""), placeholder="输入关键字")
    ids = recs["id"].astype(str)
    if needle.strip():
        hit = ids.str.contains(needle.strip(), case=False, regex=False) | recs[name_col].astype(str).str.contains(
            needle.strip(), case=False, regex=False)
        ids = ids[hit.to_numpy()]
    options = ids.tolist()[:SELECT_LIMIT]
    if not options:
        c2.warning(f"没有名称或编号包含「{needle.strip()}」的{label}")
        return None
    caption = f"共 {len(ids)} 条{label}" + (f"，下拉框列出前 {SELECT_LIMIT} 条，请输入关键字缩小范围" if len(ids) > SELECT_LIMIT else "")
    pick = keep(f"q_{kind.value}")
    if st.session_state[pick] not in options:
        st.session_state[pick] = None
    chosen = c2.selectbox(f"选择{label}", options, index=None, key=pick,
                          format_func=lambda i: f"{names.get(i, '')}（{i}）", placeholder="请选择…", help=caption)
    c2.caption(caption)
    return chosen


def _free_text() -> str | None:
    with st.form("free_text_form"):
        text = st.text_area("粘贴新的需求描述（将实时计算向量）", key=keep("free_text_input", ""), height=130,
                            placeholder="例如：我公司生产可降解购物袋，薄膜易撕裂，希望提高韧性和抗撕裂性能……")
        submitted = st.form_submit_button("匹配专利", type="primary")
    if submitted:
        st.session_state["free_text"] = text.strip()
        if not text.strip():
            st.warning("请输入需求描述")
    return st.session_state.get("free_text") or None


def _search(matcher: Matcher, query: Query, target: Kind, k: int, filters: dict[str, list[str]]) -> SearchResult:
    """Search with a small per-session memo (reruns after a click do not search again)."""
    key = (str(index_dir()), id(matcher), query.kind, query.id, query.text if query.id is None else "", query.exclude,
           target, k, tuple(sorted((c, tuple(v)) for c, v in filters.items())))
    memo: dict = st.session_state.setdefault("_search_memo", {})
    if key not in memo:
        encoder = getattr(matcher.encoder, "inner", None)
        cold = query.id is None and not getattr(encoder, "loaded", True)
        with st.spinner("首次使用需加载编码模型，请稍候…" if cold else "正在匹配…"):
            memo[key] = matcher.search(query, target, k=k, filters=filters)[0]
        while len(memo) > 32:
            memo.pop(next(iter(memo)))
    return memo[key]


@page
def browse_page() -> None:
    """Pick an enterprise / demand, a patent, or paste a demand, and see ranked, explained matches."""
    user = require_user()
    st.title("匹配浏览")
    matcher, store = _engine(), tracking_store()
    mode = st.radio("匹配方向", list(DIRECTIONS), format_func=DIRECTIONS.get, horizontal=True, key=keep("mode", "enterprise"))
    target = Kind.ENTERPRISE if mode == "patent" else Kind.PATENT
    filters, min_score, hide_contacted, k = sidebar_filters(matcher, target)

    query_record = None
    if mode == "text":
        text = _free_text()
        if not text:
            st.info("请粘贴需求描述后点击「匹配专利」")
            return
        query = Query(text=text)
    else:
        kind = Kind.ENTERPRISE if mode == "enterprise" else Kind.PATENT
        chosen = _pick_record(matcher, kind)
        if not chosen:
            st.info("请选择一条记录查看匹配结果")
            return
        query = matcher.query_for(kind, chosen)
        query_record = matcher.collection(kind).record(chosen)

    if hide_contacted:
        # the engine leaves this query's contacted pairs out, so the list fills from the next candidates
        query_id = text_query_id(query.text) if query_record is None else str(query_record.get("id"))
        query = replace(query, exclude=contacted_targets(store.contacted_pairs(), query_id, target))
    result = _search(matcher, query, target, k, filters)
    pairs = make_pairs(result, query_record, store.pair_status())
    shown, low = [], []
    for pair in pairs:
        (low if min_score is not None and pair.match.score < min_score else shown).append(pair)

    label = "专利" if target == Kind.PATENT else "企业/需求"
    summary = f"共 {result.available} 条{label}符合筛选条件，显示 {len(shown)} 条"
    hidden = []
    if low:
        hidden.append(f"{len(low)} 条低于最低综合分 {min_score:g}")
    if query.exclude:
        hidden.append(f"{len(query.exclude)} 条已联系")
    st.markdown(f"**{summary}**" + (f"（已隐藏：{'，'.join(hidden)}）" if hidden else ""))
    if result.note:
        st.warning(result.note)
    if not shown:
        reasons = []
        if result.available == 0:
            reasons.append("筛选条件过严：请减少侧栏中的行业、地区、申请人类型等条件")
        if low:
            reasons.append("降低或清空「最低综合分」")
        if query.exclude:
            reasons.append("取消勾选「隐藏已联系的组合」")
        st.warning("当前没有可显示的匹配。" + "；".join(reasons))
        return

    frame = pair_frame(shown)
    with st.expander("列表视图与导出（导出内容即下表）", expanded=False):
        st.dataframe(frame, hide_index=True, width="stretch")
        download_buttons(frame, "匹配结果", "browse_export")
    for pair in shown:
        match_card(pair, user, target)


def match_card(pair: Pair, user: User, target: Kind) -> None:
    """One pair: scores, shared terms highlighted in both texts, closest patent sentence, metadata, tracking."""
    m, ex, pat, ent = pair.match, pair.match.explanation, pair.patent, pair.enterprise
    terms = ex.shared_terms if ex else []
    with st.container(border=True, key=f"card_{pair.patent_id}_{pair.enterprise_id}"):
        head, s1, s2, s3, s4 = st.columns([4, 1, 1, 1, 1])
        if target == Kind.PATENT:
            head.markdown(f"#### #{m.rank} {clean(pat.get('title'))}\n`{pair.patent_id}`")
        else:
            head.markdown(f"#### #{m.rank} {clean(ent.get('name'))}\n`{pair.enterprise_id}`")
        s1.metric("综合分", f"{m.score:.2f}")
        s2.metric("语义分", f"{m.components.get('dense', 0.0):.2f}")
        s3.metric("关键词分", f"{m.components.get('bm25', 0.0):.2f}")
        if "phrase" in m.components and "items" not in m.components:
            s4.metric("短语分", f"{m.components['phrase']:.2f}",
                      help="需求中的关键词原样出现在专利文本中的程度（按词的稀有度加权求和）")
        else:
            s4.metric("条目分", f"{m.components.get('items', 0.0):.2f}",
                      help="企业经营范围/需求中最匹配的条目与专利的语义相似度（取最佳 3 条的平均）")
        if terms:
            chips = "".join(f"<span>{highlight_terms(t, [])}</span>" for t in terms)
            st.markdown(f"<div class='mw-terms'>共有关键词：{chips}</div>", unsafe_allow_html=True)
        else:
            st.caption("两段文本没有共有关键词（仅语义相近）")
        left, right = st.columns(2)
        ent_text = clean(ent.get("text")) or clean(ent.get(CONTENT))
        left.markdown(f"**企业/需求：{clean(ent.get('name'))}**", help=pair.enterprise_id)
        left.markdown(f"<div class='mw-text'>{highlight_terms(ent_text, terms)}</div>", unsafe_allow_html=True)
        right.markdown(f"**专利：{clean(pat.get('title'))}**", help=pair.patent_id)
        right.markdown(f"<div class='mw-text'>{highlight_terms(clean(pat.get('abstract')), terms)}</div>",
                       unsafe_allow_html=True)
        if ex and ex.closest_sentence:
            st.markdown(f"<div class='mw-sent'>最相关专利句（相似度 {ex.sentence_similarity:.2f}）："
                        f"{highlight_terms(ex.closest_sentence, terms)}</div>", unsafe_allow_html=True)
        if ex and ex.held_patent:
            st.markdown(f"<div class='mw-sent'>企业已持有相近专利（相似度 {ex.held_similarity:.2f}）："
                        f"《{highlight_terms(ex.held_patent, terms)}》</div>", unsafe_allow_html=True)
        if has_activity(m.components):
            st.markdown(f"<div class='mw-sent'>{activity_line(m.components['activity'])}</div>", unsafe_allow_html=True)
        meta = [("申请人", pat.get("applicant")), ("申请人类型", pat.get("applicant_type")), ("成熟度", pat.get("maturity")),
                ("许可方式", pat.get("license_mode")), ("价格", pat.get("price")), ("行业", pat.get("industry")),
                ("地区", pat.get("region")), ("法律状态", pat.get("legal_status"))]
        meta_text = " · ".join(f"{k}：{highlight_terms(clean(v), [])}" for k, v in meta if clean(v))
        st.markdown(f"<div class='mw-meta'>{meta_text}</div>", unsafe_allow_html=True)
        _card_tracking(pair, user)


def _card_tracking(pair: Pair, user: User) -> None:
    item = pair.item
    tag = f"{pair.patent_id}_{pair.enterprise_id}"
    if item is None:
        if user.can_edit:
            st.button("加入推送清单", key=f"add_{tag}", on_click=_add_pair, args=(pair,), type="secondary")
        else:
            st.caption("未在推送清单中（只读账号不能加入）")
        return
    cols = st.columns([3, 1, 1, 1])
    reason = f"，原因：{item.reason}" if item.reason else ""
    cols[0].markdown(f"跟踪状态：**{item.status}**{reason}（记录 #{item.id}，负责人 {item.owner or '未指定'}）")
    if user.can_edit:
        moves = [s for s in allowed_next(item.status) if s != REJECTED]
        for col, status in zip(cols[1:], moves):
            col.button(f"标记为{status}", key=f"move_{tag}_{status}", on_click=_move_item, args=(item.id, item.version, status))


def _add_pair(pair: Pair) -> None:
    user = current_user()
    if user is None or not user.can_edit:
        flash("error", "只读账号不能修改推送清单")
        return
    try:
        item = get_store().add(
            pair.patent_id, pair.enterprise_id, user=user.name, patent_title=clean(pair.patent.get("title")),
            enterprise_name=clean(pair.enterprise.get("name")), industry=clean(pair.patent.get("industry")),
            score=float(pair.match.score),
        )
        flash("success", f"已加入推送清单：{item.patent_title} ↔ {item.enterprise_name}（待推送）")
    except MatcherError as exc:
        flash("error", str(exc))


def _move_item(item_id: int, version: int, status: str) -> None:
    user = current_user()
    if user is None or not user.can_edit:
        flash("error", "只读账号不能修改跟踪状态")
        return
    try:
        item = get_store().update(item_id, version, user=user.name, status=status)
        flash("success", f"记录 #{item.id} 已改为「{item.status}」")
    except MatcherError as exc:
        flash("error", str(exc))


# ----------------------------------------------------------------------------- tracking
@page
def tracking_page() -> None:
    """The shortlist: filter, export, and move one pair through the statuses with history."""
    user = require_user()
    store = tracking_store()
    st.title("推送跟踪")
    items = store.items()
    st.sidebar.header("筛选推送清单")
    statuses = st.sidebar.multiselect("状态", list(STATUSES), key=keep("t_status", []), placeholder="全部")
    owners = sorted({i.owner for i in items if i.owner})
    chosen_owners = st.sidebar.multiselect("负责人", owners, key="t_owner", placeholder="全部") if owners else []
    needle = st.sidebar.text_input("关键字（专利/企业名称或编号）", key=keep("t_search", "")).strip().lower()
    shown = [
        i for i in items
        if (not statuses or i.status in statuses) and (not chosen_owners or i.owner in chosen_owners)
        and (not needle or needle in f"{i.patent_id} {i.patent_title} {i.enterprise_id} {i.enterprise_name}".lower())
    ]
    st.markdown(f"**推送清单共 {len(items)} 条，当前筛选显示 {len(shown)} 条**")
    if not items:
        st.info("推送清单为空：在「匹配浏览」的匹配卡片上点击「加入推送清单」。")
        return
    frame = shortlist_frame(shown)
    st.dataframe(frame, hide_index=True, width="stretch")
    download_buttons(frame, "推送清单", "shortlist_export")
    if not shown:
        st.warning("没有符合筛选条件的记录：请放宽侧栏中的状态、负责人或关键字。")
        return
    by_id = {i.id: i for i in shown}
    keep("t_item")
    if st.session_state["t_item"] not in by_id:
        st.session_state["t_item"] = next(iter(by_id))
    chosen = st.selectbox("选择记录查看与编辑", list(by_id), key="t_item",
                          format_func=lambda i: f"#{i} {by_id[i].patent_title} ↔ {by_id[i].enterprise_name}［{by_id[i].status}］")
    if chosen is not None:
        item_editor(store, user, chosen)


def _reload(item_id: int) -> None:
    st.session_state.setdefault("loaded_items", {})[item_id] = get_store().get(item_id)


def item_editor(store: TrackingStore, user: User, item_id: int) -> None:
    """Details, edit form (editors only) and history of one item.

    The form is filled from the version the officer loaded (kept in the session); saving names that
    version, so a change made meanwhile by someone else is never overwritten.
    """
    loaded: dict[int, Item] = st.session_state.setdefault("loaded_items", {})
    fresh = store.get(item_id)
    snap = loaded.setdefault(item_id, fresh)
    st.subheader(f"记录 #{snap.id}：{snap.patent_title} ↔ {snap.enterprise_name}")
    if fresh.version != snap.version:
        st.warning(f"此记录已被 {fresh.updated_by} 于 {local_time(fresh.updated_at)} 修改为第 {fresh.version} 版"
                   f"（您正在看第 {snap.version} 版）。请点击「重新加载」查看最新内容。")
    st.button("重新加载", key=f"reload_{item_id}", on_click=_reload, args=(item_id,))
    st.markdown(
        f"专利 `{snap.patent_id}` · 企业/需求 `{snap.enterprise_id}` · 行业：{snap.industry or '未标注'} · "
        f"匹配分：{'' if snap.score is None else f'{snap.score:.2f}'} · 当前状态：**{snap.status}**"
        + (f"（原因：{snap.reason}）" if snap.reason else "") + f" · 版本：{snap.version}"
    )
    if user.can_edit:
        tag = f"{snap.id}_{snap.version}"
        options = [snap.status, *allowed_next(snap.status)]
        with st.form(f"edit_{tag}"):
            c1, c2 = st.columns(2)
            status = c1.selectbox("状态", options, key=f"e_status_{tag}",
                                  help="流程：待推送 → 已推送 → 已回复 → 洽谈中 → 已许可 / 已转让；任一开放阶段可标记已拒绝")
            reasons = ["", *REASONS]
            reason = c2.selectbox("拒绝原因（仅「已拒绝」时必填）", reasons, index=reasons.index(snap.reason or ""),
                                  key=f"e_reason_{tag}", format_func=lambda r: r or "—")
            c3, c4 = st.columns(2)
            owner = c3.text_input("负责人", value=snap.owner, key=f"e_owner_{tag}")
            next_action = c4.date_input("下次跟进日期", value=snap.next_action, key=f"e_next_{tag}", format="YYYY-MM-DD")
            note = st.text_area("备注", value=snap.note, key=f"e_note_{tag}")
            submitted = st.form_submit_button("保存修改", type="primary")
        if submitted:
            try:
                new = store.update(snap.id, snap.version, user=user.name, status=status, reason=reason or None,
                                   owner=owner.strip(), note=note, next_action=next_action if isinstance(next_action, date) else None)
                loaded[item_id] = new
                flash("success", f"已保存：记录 #{new.id} 现为「{new.status}」（第 {new.version} 版）")
                st.rerun()
            except ConcurrentEditError as exc:
                st.error(str(exc))
            except TrackingError as exc:
                st.error(str(exc))
    else:
        st.info("只读账号：可以查看和导出，不能修改跟踪状态。")
        st.markdown(f"负责人：{snap.owner or '未指定'} · 下次跟进：{snap.next_action or '—'}  \n备注：{snap.note or '—'}")
    history = store.history(item_id)
    st.markdown("**变更历史**")
    st.dataframe(pd.DataFrame([{
        "时间": local_time(h.changed_at), "操作人": h.changed_by, "版本": h.version,
        "状态": f"{h.from_status} → {h.to_status}" if h.from_status and h.from_status != h.to_status else h.to_status,
        "原因": h.reason or "", "修改内容": _describe(h.changes),
    } for h in history]), hide_index=True, width="stretch")


_FIELD_NAMES = {"status": "状态", "reason": "原因", "owner": "负责人", "note": "备注", "next_action": "下次跟进"}


def _describe(changes: dict) -> str:
    if changes.get("created"):
        return "加入推送清单"
    return "；".join(f"{_FIELD_NAMES.get(k, k)}：{v[0] or '—'} → {v[1] or '—'}" for k, v in changes.items())


# ----------------------------------------------------------------------------- overview
@st.cache_data(show_spinner="正在计算总览…", max_entries=8)
def overview_matches(_matcher: Matcher, index_key: str, k: int) -> pd.DataFrame:  # noqa: ARG001 - index_key: cache key
    """The top-k patents of every enterprise / demand: columns enterprise_id, patent_id, score, industry."""
    ids = _matcher.collection(Kind.ENTERPRISE).ids[:OVERVIEW_MAX_QUERIES]
    if not ids or Kind.PATENT not in _matcher.collections:
        return pd.DataFrame(columns=["enterprise_id", "patent_id", "score", "industry"])
    results = _matcher.search([_matcher.query_for(Kind.ENTERPRISE, i) for i in ids], Kind.PATENT, k=k, explain=False)
    rows = [{"enterprise_id": r.query.id, "patent_id": m.target_id, "score": float(m.score),
             "industry": major_industry(m.record.get("industry"))} for r in results for m in r.matches]
    return pd.DataFrame(rows, columns=["enterprise_id", "patent_id", "score", "industry"])


@page
def overview_page() -> None:
    """Charts: matches per industry, score distribution, outreach funnel by status and industry, reply times."""
    require_user()
    matcher, store = _engine(), tracking_store()
    st.title("总览")
    k = st.sidebar.selectbox("每个企业/需求取前 K 名专利", [3, 5, 10, 20], key=keep("o_k", 5))
    patents = len(matcher.collections.get(Kind.PATENT, [])) if Kind.PATENT in matcher.collections else 0
    enterprises = len(matcher.collections[Kind.ENTERPRISE]) if Kind.ENTERPRISE in matcher.collections else 0
    items = store.frame()
    deals = int(items["status"].isin(["已许可", "已转让"]).sum()) if not items.empty else 0
    c = st.columns(4)
    c[0].metric("专利", patents)
    c[1].metric("企业/需求", enterprises)
    c[2].metric("推送清单", len(items))
    c[3].metric("已许可/已转让", deals)
    matches = overview_matches(matcher, f"{index_dir()}:{patents}:{enterprises}", k) if enterprises and patents else pd.DataFrame(
        columns=["enterprise_id", "patent_id", "score", "industry"])
    if enterprises > OVERVIEW_MAX_QUERIES:
        st.caption(f"匹配统计基于前 {OVERVIEW_MAX_QUERIES} 个企业/需求（共 {enterprises} 个）")
    left, right = st.columns(2)
    left.plotly_chart(charts.matches_per_industry(matches), key="chart_industry")
    right.plotly_chart(charts.score_distribution(matches), key="chart_scores")
    left, right = st.columns(2)
    left.plotly_chart(charts.funnel(store.funnel()), key="chart_funnel")
    right.plotly_chart(charts.status_by_industry(store.status_by_industry()), key="chart_status_industry")
    times = store.reply_times()
    if not times.empty:
        st.caption(f"已回复 {len(times)} 条，推送到回复中位数 {times['days'].median():.1f} 天")
    st.plotly_chart(charts.reply_times(times), key="chart_reply")
