// The call-centre console: the live queue of open alarms by priority with a sound cue on
// arrival, one click to answer, and the alarm's detail — the elder (masked by role), health
// record, contacts, latest vital signs, the fall's acceleration trace, a map with the elder
// and the nearest responders — with the steps (assess, dispatch, 120, family, close) and
// timers counting against the targets.

import { get, post, qs, Page, ApiError } from '../api';
import { h, clear, select } from '../dom';
import { t, label, fmtTime, fmtClock, fmtDuration, Key } from '../i18n';
import { subscribe, LiveEvent } from '../live';
import { alarmCue, soundEnabled, setSound } from '../cues';
import { echarts, chart, COLORS, DISTRICT } from '../charts';
import type { Cleanup } from '../main';

type Alarm = Record<string, any>;
interface AlarmItem {
  alarm: Alarm;
  elder_name: string | null;
}
interface Detail extends AlarmItem {
  case: Record<string, any>;
  detail: Record<string, any>;
  timeline: Record<string, any>[];
  notifications: Record<string, any>[];
  elder: Record<string, any> | null;
  device_state: Record<string, any> | null;
}
interface Responder {
  account_id: number;
  display_name: string;
  role: string;
  lat: number;
  lon: number;
  mode: string;
  distance_m: number;
  eta_s: number;
}

const ASSESSMENTS = ['false_alarm', 'phone_advice', 'home_visit', 'emergency'];
const OUTCOMES = ['false_alarm', 'resolved_by_phone', 'resolved_on_site', 'hospitalised', 'other'];

export async function callCentre(root: HTMLElement, params: Record<string, string>): Promise<Cleanup> {
  const targets = { answer: 30_000, on_site: 180_000, family: 300_000 };
  try {
    const s = await get<{ steps: { step: string; target_ms: number | null }[] }>('/api/v1/alarms/stats');
    for (const st of s.steps) if (st.target_ms && st.step in targets) (targets as any)[st.step] = st.target_ms;
  } catch {
    /* defaults */
  }
  const open = new Map<number, AlarmItem>();
  let closed: AlarmItem[] = [];
  let selected: number | null = params.alarm ? Number(params.alarm) : null;
  let detail: Detail | null = null;
  let responders: Responder[] = [];
  const queueEl = h('ul', { class: 'cc-list', 'data-testid': 'queue' });
  const closedEl = h('ul', { class: 'cc-list closed' });
  const detailEl = h('section', { class: 'cc-detail', 'data-testid': 'detail' });
  const liveEl = h('span', { class: 'live-dot', title: t('c_live') });
  const soundBtn = h('button', { class: 'link', 'data-testid': 'sound' });
  const msgEl = h('div', { class: 'cc-msg', role: 'status' });
  const paintSound = () => (soundBtn.textContent = soundEnabled() ? t('c_sound_on') : t('c_sound_off'));
  soundBtn.addEventListener('click', () => {
    setSound(!soundEnabled());
    paintSound();
  });
  paintSound();
  clear(
    root,
    h(
      'div',
      { class: 'cc' },
      h('aside', { class: 'cc-queue' }, h('div', { class: 'cc-head' }, h('h2', null, t('c_queue')), liveEl, soundBtn), queueEl, h('h3', null, t('c_closed_alarms')), closedEl),
      h('div', { class: 'cc-main' }, msgEl, detailEl),
    ),
  );
  let traceChart: echarts.ECharts | null = null;
  let mapChart: echarts.ECharts | null = null;
  const disposeCharts = () => {
    traceChart?.dispose();
    mapChart?.dispose();
    traceChart = mapChart = null;
  };

  const say = (text: string, error = false) => {
    msgEl.textContent = text;
    msgEl.className = error ? 'cc-msg error' : 'cc-msg';
  };

  // --- the queue -------------------------------------------------------------------
  const loadQueue = async () => {
    const p = await get<Page<AlarmItem>>(`/api/v1/alarms${qs({ open: true, per_page: 200 })}`);
    open.clear();
    for (const a of p.items) open.set(a.alarm.id, a);
    const c = await get<Page<AlarmItem>>(`/api/v1/alarms${qs({ open: false, per_page: 8 })}`);
    closed = c.items;
    paintQueue();
  };
  const sorted = () =>
    [...open.values()].sort((a, b) => a.alarm.priority - b.alarm.priority || a.alarm.raised_at - b.alarm.raised_at);
  const waited = (a: Alarm, now: number) => (a.answered_at ?? now) - a.raised_at;
  const paintQueue = () => {
    const now = Date.now();
    const items = sorted();
    clear(
      queueEl,
      items.length === 0 ? h('li', { class: 'empty' }, t('c_queue_empty')) : null,
      items.map(({ alarm: a, elder_name }) => {
        const w = waited(a, now);
        const over = !a.answered_at && w > targets.answer;
        return h(
          'li',
          { class: `cc-item p${a.priority} ${a.id === selected ? 'sel' : ''} ${a.stage === 'queued' ? 'queued' : ''}`, 'data-testid': `alarm-${a.id}`, 'data-stage': a.stage, onclick: () => choose(a.id) },
          h('div', { class: 'l1' }, h('b', { class: `kind k-${a.kind}` }, label('kind', a.kind)), h('span', { class: 'who' }, elder_name ?? t('dash')), h('span', { class: `timer ${over ? 'over' : a.answered_at ? 'ok' : 'run'}`, 'data-timer': 'wait' }, fmtDuration(w))),
          h(
            'div',
            { class: 'l2' },
            h('span', null, `#${a.id} · ${fmtClock(a.raised_at)} · `, label('stage', a.stage)),
            a.escalation ? h('span', { class: 'tag warn' }, t('c_escalated')) : null,
            a.stage === 'queued'
              ? h('button', { class: 'primary small', 'data-testid': `answer-${a.id}`, onclick: (e: Event) => { e.stopPropagation(); void step(a.id, 'answer'); } }, t('c_answer'))
              : null,
          ),
        );
      }),
    );
    clear(
      closedEl,
      closed.map(({ alarm: a, elder_name }) =>
        h('li', { class: 'cc-item closed', onclick: () => choose(a.id), 'data-testid': `closed-${a.id}` }, h('div', { class: 'l1' }, h('b', null, label('kind', a.kind)), h('span', { class: 'who' }, elder_name ?? ''), h('span', null, `#${a.id}`))),
      ),
    );
  };

  // --- the detail ------------------------------------------------------------------
  const choose = (id: number) => {
    selected = id;
    history.replaceState(null, '', `/console?alarm=${id}`);
    paintQueue();
    void loadDetail();
  };
  let loading = false;
  const loadDetail = async () => {
    if (selected == null || loading) return;
    loading = true;
    try {
      detail = await get<Detail>(`/api/v1/alarms/${selected}`);
      responders = detail.alarm.stage !== 'closed' ? await get<Responder[]>(`/api/v1/alarms/${selected}/responders`).catch(() => []) : [];
      paintDetail();
    } catch (e) {
      say(e instanceof ApiError ? e.text() : String(e), true);
    } finally {
      loading = false;
    }
  };

  const step = async (id: number, name: string, body?: unknown) => {
    say('');
    try {
      await post(`/api/v1/alarms/${id}/${name}`, body);
      say(`#${id} ${t('c_done')}`);
      if (name === 'answer') selected = id;
      await loadQueue();
      await loadDetail();
    } catch (e) {
      say(e instanceof ApiError ? e.text() : String(e), true);
    }
  };

  // A device conflict: the connections claiming the watch, each with a button to keep it. A
  // frame that could not be fully read: its raw text, for the operator.
  const deviceCard = (d: any, isOpen: boolean) => {
    const det = d.detail ?? {};
    const conns: any[] = Array.isArray(det.connections) ? det.connections : [];
    const deviceId = d.alarm.device_id;
    const keep = async (n: number) => {
      say('');
      try {
        await post(`/api/v1/devices/${deviceId}/commands`, { command: 'confirm_session', connection: n });
        say(t('c_conflict_kept', { n }));
        await loadDetail();
      } catch (e) {
        say(e instanceof ApiError ? e.text() : String(e), true);
      }
    };
    const parts = [];
    if (d.alarm.kind === 'device_conflict' && conns.length) {
      parts.push(
        h('h3', null, t('c_conflict')),
        h('p', { class: 'muted' }, t('c_conflict_help')),
        h(
          'ul',
          { class: 'responders', 'data-testid': 'conflict' },
          conns.map((c) => h('li', null, t('c_conflict_conn', { n: c.connection, peer: c.peer, since: fmtTime(c.since_ms) }), ' ', isOpen && deviceId != null ? h('button', { class: 'small', 'data-testid': `keep-${c.connection}`, onclick: () => void keep(c.connection) }, t('c_conflict_keep')) : null)),
        ),
      );
    }
    if (typeof det.raw === 'string') {
      parts.push(h('h3', null, t('c_raw_frame')), h('pre', { class: 'raw', 'data-testid': 'raw-frame' }, det.raw));
      const f = det.undecoded?.field;
      if (f) parts.push(h('p', { class: 'muted' }, t('c_raw_field', { f })));
    }
    return parts.length ? h('div', { class: 'card' }, parts) : null;
  };

  const timers = () => {
    if (!detail) return null;
    const c = detail.case;
    const now = Date.now();
    const timer = (key: Key, end: number | null | undefined, target: number, testid: string, applies = true) => {
      if (!applies) return null;
      const d = (end ?? (c.closed_at ?? now)) - c.raised_at;
      const state = end ? (d <= target ? 'ok' : 'over') : c.closed_at ? 'stopped' : d > target ? 'over' : 'run';
      return h('div', { class: `cc-timer ${state}`, 'data-testid': testid }, h('span', { class: 'name' }, t(key)), h('span', { class: 'val', 'data-timer': testid }, fmtDuration(d)), h('span', { class: 'target' }, t('c_target', { t: fmtDuration(target) })));
    };
    return h(
      'div',
      { class: 'cc-timers' },
      timer('c_timer_answer', c.answered_at, targets.answer, 'timer-answer'),
      timer('c_timer_on_site', c.on_site_at, targets.on_site, 'timer-on-site', (c.offers?.length ?? 0) > 0),
      timer('c_timer_family', c.family?.confirmed_at, targets.family, 'timer-family', c.family?.started_at != null),
    );
  };
  const timersHost = h('div');

  const paintDetail = () => {
    disposeCharts();
    if (!detail) {
      clear(detailEl, h('div', { class: 'notice' }, t('c_select_alarm')));
      return;
    }
    const d = detail;
    const a = d.alarm;
    const c = d.case;
    const isOpen = a.stage !== 'closed';
    clear(timersHost, timers());
    const e = d.elder;
    const masked: string[] = e?.masked ?? [];
    const field = (k: Key, v: unknown, name?: string) =>
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t(k)), h('span', { class: 'v' }, v == null || v === '' ? t('dash') : String(v), name && masked.includes(name) ? h('span', { class: 'tag' }, t('f_masked')) : null));
    const health = e?.health;
    const vit = d.device_state?.vitals;
    const traceHost = h('div', { class: 'cc-trace', 'data-testid': 'trace' });
    const mapHost = h('div', { class: 'cc-map', 'data-testid': 'alarm-map' });
    const assessSel = select('assessment', ASSESSMENTS.map((x) => [x, label('assess', x)]), c.assessment ?? 'home_visit');
    const outcomeSel = select('outcome', OUTCOMES.map((x) => [x, label('outcome', x)]), 'resolved_on_site');
    const notes = h('input', { name: 'notes', placeholder: t('c_notes'), 'data-testid': 'notes', maxlength: 2000 });
    const btn = (key: Key, testid: string, on: () => void, enabled: boolean, cls = '') => h('button', { class: cls, 'data-testid': testid, disabled: !enabled, onclick: on }, t(key));
    const answered = c.answered_at != null;
    clear(
      detailEl,
      h(
        'div',
        { class: 'cc-title' },
        h('h2', null, h('span', { class: `kind k-${a.kind}` }, label('kind', a.kind)), ' ', d.elder_name ?? '', h('small', null, ` #${a.id} · ${label('stage', a.stage)} · ${t('c_raised_at')} ${fmtTime(a.raised_at)}`)),
        timersHost,
      ),
      h(
        'div',
        { class: 'cc-actions', 'data-testid': 'actions' },
        btn('c_answer', 'do-answer', () => void step(a.id, 'answer'), isOpen && !answered, 'primary'),
        h('span', { class: 'group' }, assessSel, btn('c_assess', 'do-assess', () => void step(a.id, 'assess', { assessment: assessSel.value }), isOpen && answered)),
        btn('c_dispatch_nearest', 'do-dispatch', () => void step(a.id, 'dispatch'), isOpen && answered),
        btn('c_called_120', 'do-120', () => void step(a.id, 'called-120'), isOpen && answered && !c.called_120_at),
        btn('c_notify_family', 'do-family', () => void step(a.id, 'notify-family'), isOpen && answered && !c.family?.started_at),
        h('span', { class: 'group' }, outcomeSel, notes, btn('c_close', 'do-close', () => void step(a.id, 'close', { outcome: outcomeSel.value, notes: notes.value }), isOpen && answered, 'danger')),
      ),
      h(
        'div',
        { class: 'cc-grid' },
        h(
          'div',
          { class: 'card' },
          h('h3', null, t('c_profile')),
          e
            ? [
                field('f_name', e.name),
                field('f_sex', label('sex', e.sex)),
                field('f_age', e.age),
                field('f_id_number', e.id_number, 'id_number'),
                field('f_phone', e.phone, 'phone'),
                field('f_address', e.address, 'address'),
                field('f_living', label('living', e.living)),
                field('f_capability', label('cap', e.capability)),
              ]
            : h('p', null, t('dash')),
          h('h3', null, t('c_health')),
          health
            ? [field('f_chronic', health.chronic_conditions?.join('、')), field('f_allergies', health.allergies?.join('、')), field('f_medications', health.medications?.join('、')), field('f_blood', health.blood_type), field('f_doctor', health.family_doctor)]
            : h('p', { class: 'muted' }, t('c_withheld')),
          h('h3', null, t('c_contacts')),
          e?.contacts
            ? h('ol', { class: 'contacts', 'data-testid': 'contacts' }, e.contacts.map((x: any) => h('li', null, `${x.name}（${x.relation}）${x.phone}`)))
            : h('p', { class: 'muted' }, t('c_withheld')),
        ),
        h(
          'div',
          { class: 'card' },
          h('h3', null, t('c_vitals')),
          vit
            ? h('div', { class: 'vitals', 'data-testid': 'vitals' }, field('f_heart_rate', vit.hr != null ? `${vit.hr} bpm` : null), field('f_bp', vit.sbp != null ? `${vit.sbp}/${vit.dbp ?? '?'} mmHg` : null), field('f_spo2', vit.spo2 != null ? `${vit.spo2}%` : null), h('div', { class: 'muted' }, fmtTime(vit.t)))
            : h('p', { class: 'muted' }, d.device_state ? t('dash') : t('c_withheld')),
          d.device_state ? [field('f_battery', d.device_state.battery_pct != null ? `${d.device_state.battery_pct}%` : null), field('f_last_seen', fmtTime(d.device_state.last_seen_at))] : null,
          h('h3', null, t('c_trace')),
          traceHost,
        ),
        h(
          'div',
          { class: 'card' },
          h('h3', null, t('c_map')),
          mapHost,
          h('h3', null, t('c_responders')),
          responders.length
            ? h(
                'ul',
                { class: 'responders', 'data-testid': 'responders' },
                responders.map((r) =>
                  h('li', null, h('b', null, r.display_name), ` ${label('role', r.role)} · ${Math.round(r.distance_m)} m · ${t('c_eta', { m: Math.ceil(r.eta_s / 60) })} `, isOpen && answered ? h('button', { class: 'small', onclick: () => void step(a.id, 'dispatch', { responder_id: r.account_id }) }, t('c_dispatch_to')) : null),
                ),
              )
            : h('p', { class: 'muted' }, isOpen ? t('c_no_responders') : t('dash')),
        ),
      ),
      deviceCard(d, isOpen),
      h(
        'div',
        { class: 'cc-grid two' },
        h('div', { class: 'card' }, h('h3', null, t('c_timeline')), h('ol', { class: 'timeline', 'data-testid': 'timeline' }, d.timeline.map((ev) => h('li', null, h('time', null, fmtClock(ev.at)), ' ', label('ev', ev.kind), ev.actor ? ` · ${label('actor', ev.actor)}` : '')))),
        h('div', { class: 'card' }, h('h3', null, t('c_notifications')), h('ol', { class: 'timeline' }, d.notifications.map((n) => h('li', null, h('time', null, fmtClock(n.at)), ` ${n.purpose} · ${n.channel} · ${n.target} · ${n.outcome}`, n.detail ? h('div', { class: 'muted' }, n.detail) : null)))),
      ),
    );
    // The fall trace: magnitude of acceleration around the impact.
    const trace = d.timeline.find((ev) => ev.kind === 'fall_trace')?.detail;
    if (trace?.trace_mg?.length) {
      traceChart = chart(traceHost);
      const rate = trace.rate_hz ?? 100;
      const t0 = (trace.impact_ms ?? trace.trace_start_ms) as number;
      const pts = (trace.trace_mg as number[][]).map((v, i) => [(trace.trace_start_ms + (i * 1000) / rate - t0) / 1000, Math.hypot(v[0], v[1], v[2]) / 1000]);
      traceChart.setOption({
        animation: false,
        grid: { left: 44, right: 12, top: 18, bottom: 28 },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'value', name: 's', min: pts[0][0], max: pts[pts.length - 1][0] },
        yAxis: { type: 'value', name: 'g' },
        series: [{ type: 'line', showSymbol: false, data: pts, lineStyle: { width: 1.5, color: '#e74c3c' }, markLine: { silent: true, symbol: 'none', data: [{ xAxis: 0 }], lineStyle: { color: '#888' } } }],
      });
    } else {
      traceHost.textContent = t('c_trace_none');
      traceHost.classList.add('muted');
    }
    // The map: the elder and the responders.
    const loc = a.location;
    if (loc || responders.length) {
      mapChart = chart(mapHost);
      const pts = [...(loc ? [[loc.lon, loc.lat]] : []), ...responders.map((r) => [r.lon, r.lat])];
      const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
      const pad = 0.004;
      mapChart.setOption({
        animation: false,
        geo: {
          map: DISTRICT,
          roam: true,
          boundingCoords: [
            [Math.min(...lons) - pad, Math.max(...lats) + pad],
            [Math.max(...lons) + pad, Math.min(...lats) - pad],
          ],
          itemStyle: { areaColor: '#eef3f8', borderColor: '#8aa' },
          silent: true,
        },
        series: [
          { type: 'effectScatter', coordinateSystem: 'geo', data: loc ? [[loc.lon, loc.lat]] : [], symbolSize: 12, itemStyle: { color: COLORS.alarm }, label: { show: true, formatter: d.elder_name ?? '', position: 'right' } },
          { type: 'scatter', coordinateSystem: 'geo', data: responders.map((r) => ({ value: [r.lon, r.lat], name: r.display_name })), symbol: 'triangle', symbolSize: 11, itemStyle: { color: '#1e88e5' }, label: { show: true, formatter: '{b}', position: 'right', fontSize: 11 } },
        ],
      });
    } else {
      mapHost.textContent = t('dash');
    }
  };

  // --- live ------------------------------------------------------------------------
  const onEvent = (e: LiveEvent) => {
    if (e.topic !== 'alarm') return;
    const a = e.data;
    const known = open.get(a.id);
    if (a.stage === 'closed') {
      open.delete(a.id);
      closed = [{ alarm: a, elder_name: known?.elder_name ?? null }, ...closed.filter((x) => x.alarm.id !== a.id)].slice(0, 8);
    } else {
      open.set(a.id, { alarm: a, elder_name: known?.elder_name ?? null });
      if (a.change === 'raised' || a.change === 'repeat' || a.change === 'escalated') alarmCue(a.id, a.kind, a.priority <= 1);
      if (!known) {
        // The live event carries no names: fetch the queue entry (names by role).
        void get<AlarmItem>(`/api/v1/alarms/${a.id}`).then((d) => {
          const cur = open.get(a.id);
          if (cur) cur.elder_name = d.elder_name;
          paintQueue();
        });
      }
    }
    paintQueue();
    if (a.id === selected) void loadDetail();
  };
  const feed = subscribe(
    onEvent,
    (up) => {
      liveEl.classList.toggle('up', up);
      if (!up) say(t('c_offline_feed'), true);
      else if (msgEl.textContent === t('c_offline_feed')) say('');
    },
    () => void loadQueue(),
  );
  const second = setInterval(() => {
    paintQueue();
    if (detail) clear(timersHost, timers());
  }, 1000);
  // The fall trace and vital signs arrive after the alarm: refresh the open alarm's detail.
  const poll = setInterval(() => {
    if (detail && detail.alarm.stage !== 'closed') void loadDetail();
  }, 5000);

  await loadQueue();
  if (selected != null) await loadDetail();
  else paintDetail();
  return () => {
    feed.close();
    clearInterval(second);
    clearInterval(poll);
    disposeCharts();
  };
}
