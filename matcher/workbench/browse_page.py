"""匹配浏览: pick an enterprise / demand, a patent, or paste a demand, and see ranked, explained matches with their
tracking status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import streamlit as st

from matcher.auth import User
from matcher.engine import Matcher, Query
from matcher.rank.confidence import NONE_FOUND, SUITABLE
from matcher.errors import MatcherError
from matcher.grading.tiers import TIER_FILTER
from matcher.index.collection import CONTENT
from matcher.rank.reciprocal import list_rank
from matcher.results import shortfall_note
from matcher.schema import Kind
from matcher.tracking import REJECTED, allowed_next
from matcher.workbench import state
from matcher.workbench.frames import (
    Pair,
    activity_line,
    has_activity,
    clean,
    contacted_targets,
    make_pairs,
    option_values,
    pair_frame,
    reciprocal_line,
    text_query_id,
)
from matcher.workbench.degree import EXPLAIN_LINE, Graded, grade, verdict_note, words_text
from matcher.workbench.guard import callback
from matcher.workbench.highlight import highlight_terms
from matcher.workbench.inputs import MAX_PASTE_CHARS, MAX_QUERY_CHARS, NO_WORDS, clean_field, informative_terms, prepare_paste
from matcher.workbench.card_extras import card_extras, grades_of, office_lines
from matcher.workbench.markup import md, md_code
from matcher.workbench.resources import get_store, index_dir
from matcher.workbench.session import (
    current_user,
    download_buttons,
    engine,
    flash,
    keep,
    page,
    require_user,
    sidebar_multiselect,
    tracking_store,
    url_pick,
    url_put,
)

SELECT_LIMIT = 200  # options listed in a name picker at once (the search box narrows thousands down)
MODES = {"enterprise": "企业/需求 → 专利", "patent": "专利 → 企业", "text": "新需求文本 → 专利"}  # what the query is


def sidebar_filters(matcher: Matcher, target: Kind) -> tuple[dict[str, list[str]], float | None, bool, int]:
    """The sidebar filters of the ranked side: (engine filters, minimum score, hide contacted, k)."""
    recs = matcher.collection(target).records
    st.sidebar.header("筛选")
    filters: dict[str, list[str]] = {}
    if target == Kind.PATENT:
        wanted = [("行业", "industry", {"major": True}), ("地区", "region", {}), ("申请人类型", "applicant_type", {}),
                  ("许可方式", "license_mode", {}), ("成熟度 / 等级", "maturity", {})]
    else:
        wanted = [("行业", "industry", {"major": True}), ("地区", "region", {}), ("企业规模", "size", {}),
                  ("合作方式", "cooperation", {"split": ","})]
    for label, column, how in wanted:
        filters[column] = sidebar_multiselect(label, option_values(recs, column, **how), state.filter_key(target, column),
                                              help="如只看高校专利，选「高校」" if column == "applicant_type" else None)
    if target == Kind.PATENT and (grades := matcher.grades()) is not None:  # tiers: from the grades table
        filters[TIER_FILTER] = sidebar_multiselect("专利分级", option_values(grades, "tier"), state.filter_key(target, TIER_FILTER),
                                                   help="A 优先推送 · B 重点推送 · C 一般推送 · D 培育储备 · E 不可推送")
    min_score = st.sidebar.number_input("最低匹配度（0–100）", min_value=0, max_value=100, value=None, step=5, placeholder="不限",
                                        key=keep(state.MIN_SCORE), help=EXPLAIN_LINE)
    hide_contacted = st.sidebar.checkbox("隐藏已联系的组合", key=keep(state.HIDE_CONTACTED, False), help="已推送及之后状态的组合不再列出")
    k = st.sidebar.slider("结果数", min_value=5, max_value=50, step=5, key=keep(state.RESULT_COUNT, 10))
    return {c: v for c, v in filters.items() if v}, min_score, hide_contacted, k


def _pick_record(matcher: Matcher, kind: Kind) -> str | None:
    """Name search + picker over one side (copes with thousands of records)."""
    recs = matcher.collection(kind).records
    name_col = "title" if kind == Kind.PATENT else "name"
    label = "专利" if kind == Kind.PATENT else "企业/需求"
    names = dict(zip(recs["id"].astype(str), recs[name_col].map(clean)))
    c1, c2 = st.columns([1, 2])
    needle = c1.text_input(f"按名称或编号查找{label}", key=keep(state.record_search(kind), ""), placeholder="输入关键字")
    ids = recs["id"].astype(str)
    if needle.strip():
        hit = ids.str.contains(needle.strip(), case=False, regex=False) | recs[name_col].astype(str).str.contains(
            needle.strip(), case=False, regex=False)
        ids = ids[hit.to_numpy()]
    options = ids.tolist()[:SELECT_LIMIT]
    pick = state.record_pick(kind)
    url_pick(pick, kind.value)  # ?enterprise=… / ?patent=…: a shared link or a refresh
    if st.session_state.get(pick) in set(ids) and st.session_state.get(pick) not in options:
        options.insert(0, st.session_state[pick])  # the linked record, beyond the first SELECT_LIMIT
    if not options:
        c2.warning(f"没有名称或编号包含「{md(needle.strip())}」的{label}")
        return None
    caption = f"共 {len(ids)} 条{label}" + (f"，下拉框列出前 {SELECT_LIMIT} 条，请输入关键字缩小范围" if len(ids) > SELECT_LIMIT else "")
    keep(pick)
    if st.session_state[pick] not in options:
        st.session_state[pick] = None
    chosen = c2.selectbox(f"选择{label}", options, index=None, key=pick,
                          format_func=lambda i: f"{names.get(i, '')}（{i}）", placeholder="请选择…", help=caption)
    url_put(kind.value, chosen)
    c2.caption(caption)
    return chosen


def _free_text() -> str | None:
    """The pasted demand last submitted, cleaned (control characters out) and cut to MAX_QUERY_CHARS with a note."""
    with st.form(state.FREE_TEXT_FORM):
        text = st.text_area(f"粘贴新的需求描述（将实时计算向量；用于匹配的最多 {MAX_QUERY_CHARS:,} 字）",
                            key=keep(state.FREE_TEXT_INPUT, ""), height=130, max_chars=MAX_PASTE_CHARS,
                            placeholder="例如：我公司生产可降解购物袋，薄膜易撕裂，希望提高韧性和抗撕裂性能……")
        submitted = st.form_submit_button("匹配专利", type="primary")
    if submitted:
        st.session_state[state.FREE_TEXT] = clean_field(text, MAX_PASTE_CHARS)
        if not st.session_state[state.FREE_TEXT]:
            st.warning("请输入需求描述")
    pasted = prepare_paste(st.session_state.get(state.FREE_TEXT))
    if pasted.truncated:
        st.info(pasted.note)
    return pasted.text or None


def _search(matcher: Matcher, query: Query, target: Kind, k: int, filters: dict[str, list[str]]) -> Graded:
    """Search and grade (匹配度) with a small per-session memo (reruns after a click do not search again)."""
    key = (str(index_dir()), id(matcher), query.kind, query.id, query.text if query.id is None else "", query.exclude,
           target, k, tuple(sorted((c, tuple(v)) for c, v in filters.items())))
    memo = state.search_memo()
    if key not in memo:
        encoder = getattr(matcher.encoder, "inner", None)
        cold = query.id is None and not getattr(encoder, "loaded", True)
        with st.spinner("首次使用需加载编码模型，请稍候…" if cold else "正在匹配…"):
            memo[key] = grade(matcher, matcher.search(query, target, k=k, filters=filters)[0])
        while len(memo) > 32:
            memo.pop(next(iter(memo)))
    return memo[key]


@page
def browse_page() -> None:
    """Pick an enterprise / demand, a patent, or paste a demand, and see ranked, explained matches."""
    user = require_user()
    st.title("匹配浏览")
    matcher, store = engine(), tracking_store()
    for param in (Kind.ENTERPRISE.value, Kind.PATENT.value):  # a link to a record opens its direction
        url_pick(state.MODE, param, lambda _, mode=param: mode)
    mode = st.radio("匹配方向", list(MODES), format_func=MODES.get, horizontal=True, key=keep(state.MODE, "enterprise"))
    target = Kind.ENTERPRISE if mode == "patent" else Kind.PATENT
    filters, min_score, hide_contacted, k = sidebar_filters(matcher, target)

    query_record = None
    for param in (Kind.ENTERPRISE.value, Kind.PATENT.value):
        if param != mode:
            url_put(param, None)  # the URL names only the record picked in this direction
    if mode == "text":
        text = _free_text()
        if not text:
            st.info("请粘贴需求描述后点击「匹配专利」")
            return
        if not informative_terms(matcher, text):
            st.warning(NO_WORDS)
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
    graded = _search(matcher, query, target, k, filters)
    result = graded.result
    pairs = make_pairs(result, query_record, store.pair_status(), graded)
    shown, low = [], []
    for pair in pairs:
        (low if min_score is not None and pair.degree < min_score else shown).append(pair)

    label = "专利" if target == Kind.PATENT else "企业/需求"
    if verdict := verdict_note(graded.verdict, target):
        (st.success if graded.verdict == SUITABLE else st.warning if graded.verdict == NONE_FOUND else st.info)(verdict)
    st.caption(EXPLAIN_LINE)
    summary = f"共 {result.available} 条{label}符合筛选条件，显示 {len(shown)} 条"
    hidden = []
    if low:
        hidden.append(f"{len(low)} 条低于最低匹配度 {min_score:g}")
    if query.exclude:
        hidden.append(f"{len(query.exclude)} 条已联系")
    st.markdown(f"**{summary}**" + (f"（已隐藏：{'，'.join(hidden)}）" if hidden else ""))
    if note := shortfall_note(result):
        st.warning(note)
    if not shown:
        reasons = []
        if result.available == 0:
            reasons.append("筛选条件过严：请减少侧栏中的行业、地区、申请人类型等条件")
        if low:
            reasons.append("降低或清空「最低匹配度」")
        if query.exclude:
            reasons.append("取消勾选「隐藏已联系的组合」")
        st.warning("当前没有可显示的匹配。" + "；".join(reasons))
        return

    frame = pair_frame(shown)
    with st.expander("列表视图与导出（导出内容即下表）", expanded=False):
        st.dataframe(frame, hide_index=True, width="stretch")
        download_buttons(frame, "匹配结果", state.BROWSE_EXPORT)
    grades = grades_of(matcher.grades(), [p.patent_id for p in shown])
    for pair in shown:
        match_card(pair, user, target, grades)


def match_card(pair: Pair, user: User, target: Kind, grades: Mapping[str, Mapping] | None = None) -> None:
    """One pair: scores, shared terms highlighted in both texts, closest patent sentence, metadata, tracking."""
    m, ex, pat, ent = pair.match, pair.match.explanation, pair.patent, pair.enterprise
    terms = ex.shared_terms if ex else []
    with st.container(border=True, key=state.card(pair.patent_id, pair.enterprise_id)):
        head, s1 = st.columns([5, 1])
        if target == Kind.PATENT:
            head.markdown(f"#### #{m.rank} {md(clean(pat.get('title')))}\n{md_code(pair.patent_id)}")
        else:
            head.markdown(f"#### #{m.rank} {md(clean(ent.get('name')))}\n{md_code(pair.enterprise_id)}")
        s1.metric("匹配度", f"{pair.degree}", help=EXPLAIN_LINE)
        if pair.words:
            st.markdown(f"<div class='mw-meta'>{md(words_text(pair.words))}</div>", unsafe_allow_html=True)
        if terms:
            chips = "".join(f"<span>{highlight_terms(t, [])}</span>" for t in terms)
            st.markdown(f"<div class='mw-terms'>共有关键词：{chips}</div>", unsafe_allow_html=True)
        else:
            st.caption("两段文本没有共有关键词（仅语义相近）")
        left, right = st.columns(2)
        ent_text = clean(ent.get("text")) or clean(ent.get(CONTENT))
        left.markdown(f"**企业/需求：{md(clean(ent.get('name')))}**", help=md(pair.enterprise_id))
        left.markdown(f"<div class='mw-text'>{highlight_terms(ent_text, terms)}</div>", unsafe_allow_html=True)
        right.markdown(f"**专利：{md(clean(pat.get('title')))}**", help=md(pair.patent_id))
        right.markdown(f"<div class='mw-text'>{highlight_terms(clean(pat.get('abstract')), terms)}</div>",
                       unsafe_allow_html=True)
        if ex and ex.closest_sentence:
            st.markdown(f"<div class='mw-sent'>最相关专利句："
                        f"{highlight_terms(ex.closest_sentence, terms)}</div>", unsafe_allow_html=True)
        if ex and ex.held_patent:
            st.markdown(f"<div class='mw-sent'>企业已持有相近专利："
                        f"《{highlight_terms(ex.held_patent, terms)}》</div>", unsafe_allow_html=True)
        if has_activity(m.components):
            st.markdown(f"<div class='mw-sent'>{activity_line(m.components['activity'])}</div>", unsafe_allow_html=True)
        if (rank := list_rank(m.components.get("reciprocal"))) is not None:
            st.markdown(f"<div class='mw-sent'>{reciprocal_line(rank)}</div>", unsafe_allow_html=True)
        meta = [("申请人", pat.get("applicant")), ("申请人类型", pat.get("applicant_type")), ("成熟度", pat.get("maturity")),
                ("许可方式", pat.get("license_mode")), ("价格", pat.get("price")), ("行业", pat.get("industry")),
                ("地区", pat.get("region")), ("法律状态", pat.get("legal_status"))]
        meta_text = " · ".join(f"{k}：{highlight_terms(clean(v), [])}" for k, v in meta if clean(v))
        st.markdown(f"<div class='mw-meta'>{meta_text}</div>", unsafe_allow_html=True)
        for line in office_lines(pair, grades or {}):  # grades and licence fit (matcher.workbench.card_extras)
            st.markdown(f"<div class='mw-sent'>{md(line)}</div>", unsafe_allow_html=True)
        card_extras(pair, user)  # contacts and detail links (matcher.workbench.card_extras)
        _card_tracking(pair, user)


def _card_tracking(pair: Pair, user: User) -> None:
    item = pair.item
    tag = state.pair_tag(pair.patent_id, pair.enterprise_id)
    if item is None:
        if user.can_edit:
            st.button("加入推送清单", key=state.add_pair(tag), on_click=_add_pair, args=(pair,), type="secondary")
        else:
            st.caption("未在推送清单中（只读账号不能加入）")
        return
    cols = st.columns([3, 1, 1, 1])
    reason = f"，原因：{md(item.reason)}" if item.reason else ""
    cols[0].markdown(f"跟踪状态：**{md(item.status)}**{reason}（记录 #{item.id}，负责人 {md(item.owner) or '未指定'}）")
    if user.can_edit:
        moves = [s for s in allowed_next(item.status) if s != REJECTED]
        for col, status in zip(cols[1:], moves):
            col.button(f"标记为{status}", key=state.move_item(tag, status), on_click=_move_item, args=(item.id, item.version, status))


@callback
def _add_pair(pair: Pair) -> None:
    user = current_user()
    if user is None:  # signed out (or the account removed) meanwhile; a viewer is refused by the tracking service
        flash("error", "请先登录")
        return
    try:
        item = get_store().add(
            pair.patent_id, pair.enterprise_id, user=user, patent_title=clean(pair.patent.get("title")),
            enterprise_name=clean(pair.enterprise.get("name")), industry=clean(pair.patent.get("industry")),
            score=float(pair.degree),
        )
        flash("success", f"已加入推送清单：{md(item.patent_title)} ↔ {md(item.enterprise_name)}（待推送）")
    except MatcherError as exc:
        flash("error", md(exc))


@callback
def _move_item(item_id: int, version: int, status: str) -> None:
    user = current_user()
    if user is None:  # signed out (or the account removed) meanwhile; a viewer is refused by the tracking service
        flash("error", "请先登录")
        return
    try:
        item = get_store().update(item_id, version, user=user, status=status)
        flash("success", f"记录 #{item.id} 已改为「{md(item.status)}」")
    except MatcherError as exc:
        flash("error", md(exc))
