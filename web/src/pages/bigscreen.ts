// The supervisor's big screen (大屏), designed at 1920×1080 and scaled to the window: the
// district map with a dot per wearer (normal / alarm / offline) and the facilities' 15-minute
// circles, and the live figures — wearers online, alarms today by kind, answer times,
// responders on the way, card and device coverage. Fed by the API and the live feed.
//
// Rendering is timed for the bench (window.__zhulaoBench): the first full render, then each
// map update (a batch of live changes applied in one setOption).

import { get, qs, Page, ApiError } from '../api';
import { h, clear } from '../dom';
import { t, label, fmtClock, fmtDuration, fmtPct, Key } from '../i18n';
import { subscribe, LiveEvent } from '../live';
import { echarts, chart, circle, COLORS, DISTRICT, districtName } from '../charts';
import type { Cleanup } from '../main';

interface WearerMap {
  at: number;
  precise: boolean;
  total: number;
  online: number;
  alarm: number;
  offline: number;
  ids: number[];
  lat: (number | null)[];
  lon: (number | null)[];
  state: number[];
  up: number[];
}

interface Facility {
  id: number;
  kind: string;
  name: string;
  location: { lat: number; lon: number };
  service_radius_m: number;
}

interface StepStats {
  step: string;
  count: number;
  p50_ms: number | null;
  p90_ms: number | null;
  target_ms: number | null;
  within_target: number | null;
}

interface AlarmStats {
  alarms: number;
  open: number;
  by_kind: Record<string, number>;
  steps: StepStats[];
}

interface AlarmItem {
  alarm: Record<string, any>;
  elder_name: string | null;
}

interface Bench {
  firstRenderMs: number | null;
  updates: number[];
  wearers: number;
}

declare global {
  interface Window {
    __zhulaoBench: Bench;
    /** The bench feeds synthetic live events through the same path as the feed's. */
    __zhulaoBigScreen?: { apply(events: LiveEvent[]): void; ids(): number[] };
  }
}

const NORMAL = 0, ALARM = 1, OFFLINE = 2;
const ON_THE_WAY_STAGES = new Set(['dispatched']);

function startOfToday(): number {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export async function bigScreen(root: HTMLElement): Promise<Cleanup> {
  const t0 = performance.now();
  window.__zhulaoBench = { firstRenderMs: null, updates: [], wearers: 0 };
  const fig = (id: string, cls = 'figure') => h('div', { class: cls, 'data-testid': id }, t('dash'));
  const els = {
    clock: h('div', { class: 'bs-clock' }),
    online: fig('bs-online', 'figure big'),
    total: h('div', { class: 'sub', 'data-testid': 'bs-total' }),
    offline: fig('bs-offline'),
    alarmDots: fig('bs-alarm-dots'),
    alarmsToday: fig('bs-alarms-today', 'figure big'),
    open: fig('bs-open'),
    p50: fig('bs-p50'),
    p90: fig('bs-p90'),
    within: fig('bs-within30', 'figure big'),
    onTheWay: fig('bs-on-the-way', 'figure big'),
    onSite: fig('bs-on-site'),
    elders: fig('bs-elders'),
    facilities: fig('bs-facilities'),
    cardCov: fig('bs-card-coverage', 'figure big'),
    deviceCov: fig('bs-device-coverage', 'figure big'),
    feed: h('ul', { class: 'bs-feed', 'data-testid': 'bs-feed' }),
    live: h('span', { class: 'live-dot' }),
    ordersToday: fig('bs-orders-today', 'figure big'),
    mealsToday: fig('bs-meals-today'),
    ordersByService: h('ul', { class: 'bs-services', 'data-testid': 'bs-orders-by-service' }),
    meanStars: fig('bs-mean-stars', 'figure big'),
    ratingsToday: fig('bs-ratings-today'),
    ratingsLine: h('div', { class: 'row small', 'data-testid': 'bs-ratings' }),
  };
  const mapEl = h('div', { class: 'bs-map', 'data-testid': 'bs-map' });
  const kindsEl = h('div', { class: 'bs-chart' });
  const panel = (title: Key, grow: number, ...body: (Node | string)[]) => h('section', { class: 'bs-panel', style: { flexGrow: String(grow) } }, h('h3', null, t(title)), ...body);
  const stage = h(
    'div',
    { class: 'bs' },
    h(
      'header',
      { class: 'bs-head' },
      h('div', { class: 'bs-left' }, els.live, els.clock),
      h('h1', null, t('bs_title', { region: districtName })),
      h('div', { class: 'bs-right' }, h('button', { class: 'link', onclick: () => void document.documentElement.requestFullscreen?.() }, t('bs_fullscreen'))),
    ),
    h(
      'div',
      { class: 'bs-body' },
      h(
        'div',
        { class: 'bs-col' },
        panel('bs_wearers_online', 0.8, h('div', { class: 'row' }, els.online, els.total), h('div', { class: 'row small' }, h('span', { class: 'dot offline' }), t('bs_legend_offline'), els.offline, h('span', { class: 'dot alarm' }), t('bs_legend_alarm'), els.alarmDots)),
        panel('bs_alarms_today', 1.6, h('div', { class: 'row' }, els.alarmsToday, h('span', { class: 'sub' }, t('bs_open_alarms')), els.open), kindsEl),
        panel('bs_answer_time', 1, h('div', { class: 'row' }, h('div', null, h('div', { class: 'sub' }, t('bs_within_30s')), els.within)), h('div', { class: 'row small' }, t('bs_p50'), els.p50, t('bs_p90'), els.p90)),
      ),
      h('div', { class: 'bs-center' }, mapEl, legend()),
      h(
        'div',
        { class: 'bs-col' },
        panel('bs_on_the_way', 0.6, h('div', { class: 'row' }, els.onTheWay, h('span', { class: 'sub' }, t('bs_on_site')), els.onSite)),
        panel('bs_card_coverage', 1.5, h('div', { class: 'row' }, els.cardCov), h('div', { class: 'sub' }, t('bs_device_coverage')), h('div', { class: 'row' }, els.deviceCov), h('div', { class: 'row small' }, t('bs_elders'), els.elders, t('bs_facilities'), els.facilities)),
        panel('bs_live_feed', 1.5, els.feed),
        panel('bs_services', 1.1, h('div', { class: 'row' }, els.ordersToday, h('span', { class: 'sub' }, t('bs_meals')), els.mealsToday), els.ordersByService),
        panel('bs_ratings', 0.6, h('div', { class: 'row' }, els.meanStars, h('span', { class: 'sub' }, t('bs_ratings_today')), els.ratingsToday), els.ratingsLine),
      ),
    ),
  );
  clear(root, h('div', { class: 'bs-viewport' }, stage));
  const fit = () => {
    const s = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    stage.style.transform = `scale(${s})`;
  };
  fit();
  window.addEventListener('resize', fit);
  const tick = setInterval(() => (els.clock.textContent = fmtClock(Date.now())), 1000);
  els.clock.textContent = fmtClock(Date.now());

  // --- the map ---------------------------------------------------------------------
  const map = chart(mapEl);
  const kinds = chart(kindsEl);
  let wm: WearerMap = { at: 0, precise: false, total: 0, online: 0, alarm: 0, offline: 0, ids: [], lat: [], lon: [], state: [], up: [] };
  let index = new Map<number, number>();
  /** Devices with an open alarm (from the snapshot and the feed). */
  let alarmed = new Set<number>();
  let facilities: Facility[] = [];
  let openAlarms: AlarmItem[] = [];

  // Three canvas layers (zlevel): the outline, circles and facilities never change; the
  // wearer dots are repainted on an update; the rippling alarm dots animate on their own, so
  // their animation does not repaint 20,000 dots every frame.
  const baseOption = (): echarts.EChartsCoreOption => ({
    backgroundColor: 'transparent',
    animation: false,
    tooltip: { show: false },
    geo: {
      map: DISTRICT,
      roam: true,
      layoutCenter: ['50%', '50%'],
      layoutSize: '96%',
      itemStyle: { areaColor: '#0b2a4a', borderColor: '#39c6ff', borderWidth: 2, shadowColor: 'rgba(57,198,255,.5)', shadowBlur: 18 },
      emphasis: { disabled: true },
      label: { show: false },
      silent: true,
    },
    series: [
      {
        id: 'circles',
        type: 'custom',
        coordinateSystem: 'geo',
        silent: true,
        data: facilities.map((f) => [f.location.lon, f.location.lat, f.service_radius_m]),
        renderItem: (_params: unknown, api: any) => {
          const lon = api.value(0), lat = api.value(1), r = api.value(2);
          const points = circle(lon, lat, r).map((p) => api.coord(p));
          return { type: 'polygon', shape: { points }, style: { fill: 'rgba(79,195,247,0.10)', stroke: 'rgba(79,195,247,0.55)', lineWidth: 1 } };
        },
        z: 1,
      },
      { id: 'offline', type: 'scatter', coordinateSystem: 'geo', dimensions: ['lng', 'lat'], symbolSize: 3, large: true, largeThreshold: 500, itemStyle: { color: COLORS.offline }, data: new Float32Array(0), zlevel: 1, z: 2, silent: true },
      { id: 'normal', type: 'scatter', coordinateSystem: 'geo', dimensions: ['lng', 'lat'], symbolSize: 3, large: true, largeThreshold: 500, itemStyle: { color: COLORS.normal }, data: new Float32Array(0), zlevel: 1, z: 3, silent: true },
      { id: 'alarm', type: 'effectScatter', coordinateSystem: 'geo', symbolSize: 9, rippleEffect: { scale: 4, brushType: 'stroke' }, itemStyle: { color: COLORS.alarm }, data: [], zlevel: 2, z: 5, silent: true },
      {
        id: 'facilities',
        type: 'scatter',
        coordinateSystem: 'geo',
        symbol: 'diamond',
        symbolSize: 7,
        itemStyle: { color: COLORS.facility },
        data: facilities.map((f) => [f.location.lon, f.location.lat]),
        z: 4,
        silent: true,
      },
    ],
  });

  /** The three dot series from the current columns, as flat typed arrays (lon, lat, lon, lat …). */
  const dotSeries = () => {
    const n = wm.ids.length;
    const counts = [0, 0, 0];
    const st = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (wm.lat[i] == null || wm.lon[i] == null) {
        st[i] = 255;
        continue;
      }
      st[i] = stateOf(i);
      counts[st[i]]++;
    }
    // Alarms raised without a device (a phone call) still show where they are.
    const extra = openAlarms.filter((a) => !a.alarm.device_id && a.alarm.location);
    counts[ALARM] += extra.length;
    const by = counts.map((c) => new Float32Array(c * 2));
    const at = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const s = st[i];
      if (s === 255) continue;
      by[s][at[s]++] = wm.lon[i]!;
      by[s][at[s]++] = wm.lat[i]!;
    }
    for (const a of extra) {
      by[ALARM][at[ALARM]++] = a.alarm.location.lon;
      by[ALARM][at[ALARM]++] = a.alarm.location.lat;
    }
    return [
      { id: 'offline', data: by[OFFLINE] },
      { id: 'normal', data: by[NORMAL] },
      { id: 'alarm', data: pairs(by[ALARM]) },
    ];
  };

  const stateOf = (i: number) => (alarmed.has(wm.ids[i]) ? ALARM : wm.up[i] ? NORMAL : OFFLINE);

  const recount = () => {
    let online = 0, alarm = 0;
    for (let i = 0; i < wm.ids.length; i++) {
      online += wm.up[i];
      if (alarmed.has(wm.ids[i])) alarm++;
    }
    els.online.textContent = String(online);
    els.total.textContent = t('bs_wearers_total', { n: wm.total });
    els.offline.textContent = String(wm.total - online);
    els.alarmDots.textContent = String(alarm);
  };

  const timed = (done: (ms: number) => void) => {
    const start = performance.now();
    return () => {
      // The frame is on screen once the browser has painted after the update.
      requestAnimationFrame(() => done(performance.now() - start));
    };
  };

  const loadSnapshot = async () => {
    const m = await get<WearerMap>('/api/v1/map/wearers');
    wm = m;
    index = new Map(m.ids.map((id, i) => [id, i]));
    alarmed = new Set(m.ids.filter((_, i) => m.state[i] === ALARM));
    window.__zhulaoBench.wearers = m.total;
  };

  // --- figures ---------------------------------------------------------------------
  const loadStats = async () => {
    const since = startOfToday();
    try {
      const s = await get<AlarmStats>(`/api/v1/alarms/stats${qs({ since })}`);
      els.alarmsToday.textContent = String(s.alarms);
      els.open.textContent = String(s.open);
      const answer = s.steps.find((x) => x.step === 'answer');
      els.p50.textContent = fmtDuration(answer?.p50_ms);
      els.p90.textContent = fmtDuration(answer?.p90_ms);
      els.within.textContent = fmtPct(answer?.within_target);
      const entries = Object.entries(s.by_kind).sort((a, b) => b[1] - a[1]);
      kinds.setOption(
        {
          animation: false,
          grid: { left: 110, right: 30, top: 6, bottom: 6 },
          xAxis: { type: 'value', show: false, minInterval: 1 },
          yAxis: { type: 'category', inverse: true, data: entries.map(([k]) => label('kind', k)), axisLabel: { color: '#cfe8ff', fontSize: 16 }, axisLine: { show: false }, axisTick: { show: false } },
          series: [{ type: 'bar', data: entries.map(([, v]) => v), barWidth: 14, itemStyle: { color: '#ffb020', borderRadius: 7 }, label: { show: true, position: 'right', color: '#fff', fontSize: 16 } }],
          graphic: entries.length ? [] : [{ type: 'text', left: 'center', top: 'middle', style: { text: t('bs_no_alarms'), fill: '#7fa7c9', fontSize: 18 } }],
        },
        { notMerge: true },
      );
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403)) throw e;
    }
  };

  const loadOpen = async () => {
    try {
      const p = await get<Page<AlarmItem>>(`/api/v1/alarms${qs({ open: true, per_page: 200 })}`);
      openAlarms = p.items;
      els.onTheWay.textContent = String(p.items.filter((a) => ON_THE_WAY_STAGES.has(a.alarm.stage)).length);
      els.onSite.textContent = String(p.items.filter((a) => a.alarm.stage === 'on_site').length);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403)) throw e;
    }
  };

  const loadRegistry = async () => {
    try {
      const s = await get<Record<string, any>>('/api/v1/stats');
      els.cardCov.textContent = fmtPct(s.card_coverage);
      els.deviceCov.textContent = fmtPct(s.device_coverage);
      els.elders.textContent = String(s.elders ?? t('dash'));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403)) throw e;
    }
    const fs: Facility[] = [];
    for (let page = 1; page < 50; page++) {
      const p = await get<Page<Facility>>(`/api/v1/facilities${qs({ active: true, per_page: 200, page })}`);
      fs.push(...p.items);
      if (fs.length >= p.total || p.items.length === 0) break;
    }
    facilities = fs;
    els.facilities.textContent = String(fs.length);
  };

  await Promise.all([loadSnapshot(), loadRegistry(), loadOpen()]);
  recount();
  // The first frame drawn with the dots is the first render (the ripple of alarm dots never
  // "finishes", so this listens for the frame itself).
  map.on('rendered', function first() {
    map.off('rendered', first);
    if (window.__zhulaoBench.firstRenderMs == null) window.__zhulaoBench.firstRenderMs = performance.now() - t0;
  });
  map.setOption(baseOption());
  map.setOption({ series: dotSeries() });
  await loadStats();

  // --- live updates ----------------------------------------------------------------
  let dirty = false;
  let statsDue = false;
  function markAlarm(a: Record<string, any>) {
    if (a.device_id == null) return;
    // A new alarm carries where the device was (one live event per alarm change, no separate
    // device event): move its dot there unless that is only the elder's home. (A repeat keeps
    // the first raise's position, so it does not move the dot back.)
    const i = index.get(a.device_id);
    const at = a.location;
    if (a.change === 'raised' && i !== undefined && at && (at.source === 'fix' || at.source === 'last_known')) {
      wm.lat[i] = at.lat;
      wm.lon[i] = at.lon;
    }
    if (a.stage === 'closed') alarmed.delete(a.device_id);
    else if (a.kind !== 'offline' && a.kind !== 'low_battery') alarmed.add(a.device_id);
  }
  const apply = (e: LiveEvent) => {
    if (e.topic === 'device') {
      const i = index.get(e.data.device_id);
      if (i === undefined) return;
      if (e.data.lat != null && e.data.lon != null) {
        wm.lat[i] = e.data.lat;
        wm.lon[i] = e.data.lon;
      }
      wm.up[i] = e.data.online ? 1 : 0;
      dirty = true;
    } else if (e.topic === 'alarm') {
      markAlarm(e.data);
      feedLine(e);
      dirty = true;
      statsDue = true;
    }
  };
  const feedLine = (e: LiveEvent) => {
    const a = e.data;
    const li = h('li', { class: a.stage === 'closed' ? 'closed' : a.stage === 'queued' ? 'new' : '' }, h('time', null, fmtClock(e.at)), ' ', h('b', null, label('kind', a.kind)), ' · ', label('stage', a.stage), ` #${a.id}`);
    els.feed.prepend(li);
    while (els.feed.children.length > 9) els.feed.lastElementChild?.remove();
  };
  const flush = setInterval(async () => {
    if (statsDue) {
      statsDue = false;
      await Promise.all([loadStats(), loadOpen()]).catch(() => undefined);
      dirty = true;
    }
    if (!dirty) return;
    dirty = false;
    recount();
    const done = timed((ms) => window.__zhulaoBench.updates.push(ms));
    map.setOption({ series: dotSeries() });
    done();
  }, 250);
  // Today's orders, meals and ratings (counts only, from GET /services/today), every 15 s.
  const loadServices = async () => {
    const s = await get<Record<string, any>>('/api/v1/services/today');
    els.ordersToday.textContent = String(s.orders_today);
    els.mealsToday.textContent = String(s.meals_today.ordered);
    clear(els.ordersByService, Object.entries(s.orders_by_category as Record<string, number>).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => h('li', null, h('span', null, label('svccat', k)), h('b', null, String(n)))));
    els.meanStars.textContent = s.mean_stars_30d == null ? t('dash') : `${(s.mean_stars_30d as number).toFixed(2)}★`;
    els.ratingsToday.textContent = String(s.ratings_today);
    els.ratingsLine.textContent = (s.stars_30d as number[]).map((n, i) => `${i + 1}★ ${n}`).join(' · ');
  };
  await loadServices().catch(() => undefined);
  const services = setInterval(() => void loadServices().catch(() => undefined), 15_000);
  // Positions move slowly and the feed only carries changes: a fresh snapshot every 15 s.
  const refresh = setInterval(async () => {
    try {
      await Promise.all([loadSnapshot(), loadOpen()]);
      dirty = true;
    } catch {
      /* the next round */
    }
  }, 15_000);
  window.__zhulaoBigScreen = { apply: (events) => events.forEach(apply), ids: () => wm.ids };
  const feed = subscribe(
    apply,
    (up) => els.live.classList.toggle('up', up),
    () => {
      statsDue = true;
    },
  );

  return () => {
    feed.close();
    delete window.__zhulaoBigScreen;
    clearInterval(tick);
    clearInterval(flush);
    clearInterval(refresh);
    clearInterval(services);
    window.removeEventListener('resize', fit);
    map.dispose();
    kinds.dispose();
  };
}

/** A flat lon/lat array as pairs (the effect series takes plain data). */
function pairs(flat: Float32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

function legend(): HTMLElement {
  const item = (cls: string, key: Key) => h('span', { class: 'lg' }, h('span', { class: `dot ${cls}` }), t(key));
  return h('div', { class: 'bs-legend' }, item('normal', 'bs_legend_normal'), item('alarm', 'bs_legend_alarm'), item('offline', 'bs_legend_offline'), item('facility', 'bs_legend_facility'));
}
