"""The workbench's nightly-lists page (夜间清单): the last `matcher match` run, filtered, with pairs put on the shortlist.

The tables come from `matcher.workbench.batch` (no Streamlit there); the session helpers and the page decorator are
the other pages' (`matcher.workbench.session`), the session keys `matcher.workbench.state`'s.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from matcher.auth import User
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.export import RunManifest, index_info
from matcher.schema import Kind
from matcher.tracking import DuplicatePairError, major_industry
from matcher.workbench import charts, state
from matcher.workbench.batch import (
    DIRECTION_LABELS,
    MANIFEST,
    BatchFilter,
    cap_per_target,
    export_dir,
    filter_pairs,
    id_columns,
    load_batch,
    mark_tracked,
    most_listed,
    pair_table,
    run_summary,
    stale_reasons,
    target_label,
)
from matcher.workbench.degree import EXPLAIN_LINE
from matcher.workbench.frames import option_values
from matcher.workbench.guard import callback
from matcher.workbench.markup import md
from matcher.workbench.resources import get_matcher, get_store, index_dir
from matcher.workbench.session import (
    current_user,
    download_buttons,
    flash,
    keep,
    page,
    require_user,
    sidebar_multiselect,
    tracking_store,
)

BATCH_SHOWN = 2000  # rows drawn on screen at once (the filters narrow 200k pairs down)
BATCH_DOWNLOAD = 20000  # rows a download is built for in the browser (the export folder has every row)
BATCH_PICK = 200  # pairs offered for adding to the shortlist at once


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner="正在读取夜间推荐清单…", max_entries=4)
def batch_tables(folder: str, stamp: float, _matcher: Matcher | None, index_key: str  # noqa: ARG001 - cache keys
                 ) -> tuple[RunManifest | None, dict[str, pd.DataFrame], dict]:
    """The last run's manifest, each direction's `pair_table`, and the index it is compared with."""
    batch = load_batch(folder)
    if batch is None:
        return None, {}, {}
    records = {k: (_matcher.get(k).records if _matcher is not None and _matcher.has(k) else None) for k in Kind}
    tables = {d: pair_table(batch, d, records[Kind.PATENT], records[Kind.ENTERPRISE], _matcher) for d in batch.manifest.directions}
    return batch.manifest, tables, (index_info(_matcher) if _matcher is not None else {})


@page
def batch_page() -> None:
    """The nightly lists of `matcher match`: filter them, see who recurs, and put pairs on the shortlist."""
    user = require_user()
    st.title("夜间推荐清单")
    folder = export_dir()
    try:
        matcher = get_matcher()
    except MatcherError as exc:
        matcher = None
        st.warning(f"匹配引擎无法加载（{md(exc)}）：清单照常显示，但缺少查询方的行业、地区等信息，也无法检查索引是否已变化。")
    try:
        manifest, tables, current = batch_tables(str(folder), _mtime(folder / MANIFEST), matcher, f"{index_dir()}:{id(matcher)}")
    except MatcherError as exc:
        st.error(f"夜间推荐清单无法读取：{md(exc)}")
        return
    if manifest is None:
        st.info(f"尚无夜间推荐清单（{md(folder)}）：请管理员运行夜间匹配任务（`matcher match`），"
                "生成每个专利的企业清单和每个企业/需求的专利清单。")
        return
    for line in run_summary(manifest):
        st.caption(line)  # the run's own words and numbers (backticks meant as code)
    stale = stale_reasons(manifest, current) if matcher is not None else []
    if stale:
        st.warning("清单生成后索引已变化（" + "；".join(md(s) for s in stale) + "）：清单不含新记录，已删除的记录仍会出现，请管理员重新运行夜间匹配任务。")
    if manifest.notes:  # the run's own notes are the command line's (English), for the administrator
        st.caption(f"本次运行有 {len(manifest.notes)} 条运行备注，供管理员在导出目录的 {md(MANIFEST)} 中查看。")
    directions = [d for d in manifest.directions if d in tables]
    if not directions:
        st.warning("本次运行没有输出任何方向的清单，请查看运行备注。")
        return
    keep(state.BATCH_DIRECTION, directions[0])
    if st.session_state[state.BATCH_DIRECTION] not in directions:
        st.session_state[state.BATCH_DIRECTION] = directions[0]
    direction = st.radio("清单方向", directions, format_func=lambda d: DIRECTION_LABELS.get(d, d), horizontal=True,
                         key=state.BATCH_DIRECTION)
    table = mark_tracked(tables[direction], tracking_store().pair_status())
    target = target_label(direction)

    st.sidebar.header("筛选清单")
    needle = st.sidebar.text_input("关键字（专利/企业名称或编号）", key=keep(state.BATCH_SEARCH, ""))
    keep(state.BATCH_MAX_RANK, manifest.k)
    st.session_state[state.BATCH_MAX_RANK] = min(max(int(st.session_state[state.BATCH_MAX_RANK] or manifest.k), 1),
                                                 max(manifest.k, 1))
    max_rank = st.sidebar.slider("每个清单只看前 N 名", min_value=1, max_value=max(manifest.k, 2), key=state.BATCH_MAX_RANK)
    chosen = BatchFilter(
        needle=needle, max_rank=max_rank,
        patent_industries=sidebar_multiselect("专利行业", sorted(set(table["专利行业"].map(major_industry))), state.BATCH_INDUSTRY),
        applicant_types=sidebar_multiselect("申请人类型", option_values(table, "申请人类型"), state.BATCH_APPLICANT_TYPE,
                                     help="如只看高校专利，选「高校」"),
        enterprise_regions=sidebar_multiselect("企业地区", option_values(table, "企业地区"), state.BATCH_REGION),
        tiers=sidebar_multiselect("专利分级", option_values(table, "分级"), state.BATCH_TIER,
                                  help="A 优先推送 · B 重点推送 · C 一般推送 · D 培育储备（来自专利分级）"),
        licence_fits=sidebar_multiselect("许可契合", option_values(table, "许可契合"), state.BATCH_LICENCE_FIT,
                                         help="需求的合作方式与预算 对照 专利的许可方式与价格"),
        hide_tracked=st.sidebar.checkbox("隐藏已加入推送清单的组合", key=keep(state.BATCH_HIDE_TRACKED, False)),
    )
    cap = st.sidebar.number_input(f"每个{target}最多出现在几个清单中（0 = 不限）", min_value=0, max_value=max(len(table), 1),
                                  step=1, key=keep(state.BATCH_MAX_PER_TARGET, 0),
                                  help=f"少数{target}占据大量清单时，设上限后每个{target}只保留其排名最靠前的几个清单"
                                       "（被让出的名次不由其他候选补上）")
    shown = cap_per_target(filter_pairs(table, chosen), direction, int(cap or 0))
    list_id, target_id = id_columns(direction)
    c = st.columns(4)
    c[0].metric("清单数", f"{table[list_id].nunique():,}")
    c[1].metric("筛选后配对", f"{len(shown):,}")
    c[2].metric(f"不同{target}", f"{shown[target_id].nunique():,}")
    c[3].metric(f"单个{target}最多出现", f"{int(table['出现清单数'].max()) if len(table) else 0:,} 个清单")
    st.caption(EXPLAIN_LINE)
    if shown.empty:
        st.warning("没有符合筛选条件的配对：请放宽侧栏中的关键字、名次、行业、申请人类型或地区。")
        return
    st.dataframe(shown.head(BATCH_SHOWN), hide_index=True, width="stretch",
                 column_config={"出现清单数": st.column_config.NumberColumn(help=f"本次运行中该{target}出现在多少个清单里"),
                                "匹配度": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d", help=EXPLAIN_LINE),
                                "引擎排名": st.column_config.NumberColumn(help="设置出现次数上限前引擎给出的名次")})
    if len(shown) > BATCH_SHOWN:
        st.caption(f"显示前 {BATCH_SHOWN:,} 行（共 {len(shown):,} 行），可用侧栏筛选缩小范围。")
    if len(shown) <= BATCH_DOWNLOAD:
        download_buttons(shown, "夜间推荐清单", state.BATCH_EXPORT)
    else:
        st.caption(f"筛选结果超过 {BATCH_DOWNLOAD:,} 行，请缩小范围后下载；完整清单见导出目录 {md(folder)}。")
    _batch_to_shortlist(user, shown.head(BATCH_PICK))
    st.plotly_chart(charts.most_listed(most_listed(table, direction), target), key=state.CHART_MOST_LISTED)
    if not manifest.max_per_target.get(direction) and not cap:
        st.caption(f"少数{target}占据大量清单时，可在侧栏「每个{target}最多出现在几个清单中」设置上限。")


def _batch_to_shortlist(user: User, rows: pd.DataFrame) -> None:
    """Pick pairs of the filtered lists and put them on the shortlist (editors only)."""
    if not user.can_edit:
        st.caption("只读账号不能加入推送清单。")
        return
    # a pair is in one list per direction, so "patent id ↔ enterprise id" names a row
    by_key = {f"{r['专利号']} ↔ {r['企业/需求编号']}": r for r in rows.to_dict("records")}
    labels = {key: f"{r['专利名称']} ↔ {r['企业/需求名称']}（第 {r['排名']} 名）" for key, r in by_key.items()}
    keep(state.BATCH_PICKED, [])
    st.session_state[state.BATCH_PICKED] = [key for key in st.session_state[state.BATCH_PICKED] if key in labels]
    picked = st.multiselect(f"选择要加入推送清单的组合（筛选结果的前 {min(len(rows), BATCH_PICK)} 个）", list(labels),
                            format_func=labels.get, key=state.BATCH_PICKED, placeholder="可多选", select_all=False)
    st.button(f"加入推送清单（{len(picked)} 对）", key=state.BATCH_ADD, disabled=not picked, type="primary",
              on_click=_add_batch_pairs, args=([by_key[key] for key in picked],))


@callback
def _add_batch_pairs(rows: list[dict]) -> None:
    user = current_user()
    if user is None or not user.can_edit:
        flash("error", "只读账号不能修改推送清单")
        return
    store, added, present = get_store(), 0, 0
    for r in rows:
        try:
            store.add(r["专利号"], r["企业/需求编号"], user=user, patent_title=r["专利名称"],
                      enterprise_name=r["企业/需求名称"], industry=r["专利行业"], score=float(r["匹配度"]))
            added += 1
        except DuplicatePairError:
            present += 1
        except MatcherError as exc:
            flash("error", md(exc))
    st.session_state[state.BATCH_PICKED] = []
    flash("success", f"已加入推送清单 {added} 对（待推送）" + (f"，{present} 对已在清单中" if present else ""))
