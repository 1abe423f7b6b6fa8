"""推广活动: an open-licence campaign for one patent (enterprises spread over regions and sectors, contact rules from the
tracking database, added to the shortlist in one click) and an enterprise's weekly digest, each with its workbook
(matcher.office.campaigns, matcher.office.digest)."""

from __future__ import annotations

import io
from datetime import date

import streamlit as st

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.office.campaigns import CAMPAIGN_HEADERS, SKIPPED_HEADERS, add_campaign, build_campaign
from matcher.office.contacts import contact_history
from matcher.office.digest import DIGEST_HEADERS, weekly_digest
from matcher.office.licence_fit import FREE_FIRST_MODES
from matcher.office.workbook import officer_table, write_workbook
from matcher.schema import Kind
from matcher.tracking import TrackingStore
from matcher.tracking.terms import current_terms
from matcher.workbench import state
from matcher.workbench.export import XLSX_MIME
from matcher.workbench.session import current_user, engine, keep, page, tracking_store

FITS = {"不限": None, "契合": 2, "契合或可协商": 1}


def _book(title: str, cover, sheets) -> bytes:
    buf = io.BytesIO()
    write_workbook(buf, title, cover, sheets)
    return buf.getvalue()


def _campaign(matcher: Matcher, store: TrackingStore) -> None:
    patents = matcher.collection(Kind.PATENT).records
    open_only = st.checkbox("只列开放许可 / 先使用后付费的专利", key=keep(state.CAMP_OPEN_ONLY, False))
    if open_only:
        patents = patents[patents["license_mode"].fillna("").isin(FREE_FIRST_MODES)]
    if patents.empty:
        st.info("没有符合条件的专利。")
        return
    patent = _pick_record("推广的专利", dict(zip(patents["id"], patents["title"])), state.CAMP_PATENT)
    c = st.columns(4)
    n = c[0].number_input("企业数", 1, 200, key=keep(state.CAMP_N, 10))
    lam = c[1].slider("匹配分权重 λ（越小越分散）", 0.0, 1.0, key=keep(state.CAMP_LAMBDA, 0.7), step=0.1)
    skip = c[2].number_input("多少天内联系过的不选", 0, 365, key=keep(state.CAMP_SKIP_DAYS, 30))
    cap = c[3].number_input("每家企业每周最多推送（0 不限）", 0, 50, key=keep(state.CAMP_WEEKLY_CAP, 3))
    if st.button("生成推广名单", key=state.CAMP_BUILD, type="primary"):
        st.session_state[state.CAMP_RESULT] = build_campaign(matcher, patent, n=int(n), pool=max(200, int(n)), lam=lam,
                                                             skip_days=int(skip), weekly_cap=int(cap), store=store)
    camp = st.session_state.get(state.CAMP_RESULT)
    if camp is None or camp.patent.get("id") != patent:
        return
    rows = officer_table(camp.rows, CAMPAIGN_HEADERS)
    st.caption(f"{len(camp.rows)} 家企业，覆盖 {camp.rows['region'].replace('', None).nunique()} 个地区、"
               f"{camp.rows['sector'].nunique()} 个产业领域；跳过 {len(camp.skipped)} 家（近期联系过、本周已达上限或已在推送清单中）。")
    st.dataframe(rows, hide_index=True, width="stretch")
    if len(camp.skipped):
        with st.expander(f"跳过的企业（{len(camp.skipped)}）"):
            st.dataframe(camp.skipped.rename(columns=SKIPPED_HEADERS), hide_index=True, width="stretch")
    left, right = st.columns(2)
    if left.button("一键加入推送清单", key=state.CAMP_ADD):
        try:
            added, dup = add_campaign(store, camp, user=current_user())
            st.success(f"已加入推送清单：新增 {added} 条（待推送），{dup} 条原已在清单中。")
        except MatcherError as exc:
            st.error(str(exc))
    right.download_button("下载推广名单（XLSX，含封面）", _book("开放许可推广活动", camp.cover(),
                                                              {"推广企业": rows, "跳过的企业": camp.skipped.rename(columns=SKIPPED_HEADERS)}),
                          file_name=f"推广名单_{patent}.xlsx", mime=XLSX_MIME, key=state.download(state.CAMP_EXPORT, "xlsx"))


def _pick_record(label: str, names: dict, key: str):
    """A record picker (name and id) that keeps its choice across reruns and falls back to the first record."""
    first = next(iter(names))
    keep(key, first)
    if st.session_state[key] not in names:
        st.session_state[key] = first
    return st.selectbox(label, list(names), key=key, format_func=lambda i: f"{names[i]}（{i}）", placeholder="请选择…")


def _digest(matcher: Matcher, store: TrackingStore) -> None:
    records = matcher.collection(Kind.ENTERPRISE).records
    eid = _pick_record("企业 / 需求", dict(zip(records["id"], records["name"])), state.DIGEST_ENTERPRISE)
    c = st.columns(2)
    m = c[0].number_input("最多推荐专利数", 1, 20, key=keep(state.DIGEST_M, 5))
    fit = c[1].selectbox("许可方式匹配", list(FITS), key=keep(state.DIGEST_FIT, "不限"), placeholder="请选择…")
    d = weekly_digest(matcher, eid, m=int(m), contact=contact_history(store).get(eid), min_fit=FITS[fit],
                      terms=current_terms(store))
    year, week, _ = date.today().isocalendar()
    label = f"{year}-W{week:02d}"
    for line, value in d.cover(label)[2:6]:
        st.caption(f"{line}：{value}")
    rows = officer_table(d.rows, DIGEST_HEADERS)
    st.dataframe(rows, hide_index=True, width="stretch")
    st.download_button("下载每周推荐（XLSX，含封面）", _book(f"每周专利推荐（{label}）", d.cover(label), {"推荐专利": rows}),
                       file_name=f"每周推荐_{eid}_{label}.xlsx", mime=XLSX_MIME,
                       key=state.download(state.DIGEST_EXPORT, "xlsx"))


@page
def campaign_page() -> None:
    """Two tabs: 开放许可推广 (one patent to many enterprises) and 每周推荐 (one enterprise's digest)."""
    matcher, store = engine(), tracking_store()
    st.title("推广活动与每周推荐")
    if not matcher.has(Kind.ENTERPRISE) or not matcher.has(Kind.PATENT):
        st.info("索引中需要同时有专利和企业。")
        return
    campaign_tab, digest_tab = st.tabs(["开放许可推广", "每周推荐"])
    with campaign_tab:
        _campaign(matcher, store)
    with digest_tab:
        _digest(matcher, store)
