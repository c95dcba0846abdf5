// An elder's monitoring settings (监护设置), the elder detail page's last tab, on
// GET/PUT /api/v1/elders/{id}/monitoring: vital-sign limits over the platform defaults, safe
// zones (circles and polygons), the inactivity period. Admin, station staff and care managers
// edit; other roles that may see the settings read them; roles that may not (the supervisor)
// are told so. The server validates; its field errors show in the console's language.

import { get, put, me, ApiError, FieldErr, fieldText } from '../api';
import { h, clear } from '../dom';
import { t, label, Key } from '../i18n';
import { Obj } from './svc';

interface Point {
  lat: number;
  lon: number;
}

interface VitalLimit {
  kind: string;
  low: number;
  high: number;
}

type Zone = { name: string } & ({ shape: 'circle'; center: Point; radius_m: number } | { shape: 'polygon'; points: Point[] });

interface Settings {
  vital_limits: VitalLimit[];
  safe_zones: Zone[];
  inactivity_min: number | null;
}

interface MonitoringView {
  elder_id: number;
  version: number;
  settings: Settings;
  defaults: { vital_limits: VitalLimit[]; inactivity_min: number; waking_hours: string };
}

/** The signs in the order they are shown, with the range a limit may be set in (the server's) and the input step. */
const SIGNS: [string, number, number, number][] = [
  ['heart_rate', 20, 250, 1],
  ['systolic', 60, 260, 1],
  ['diastolic', 30, 160, 1],
  ['spo2', 70, 100, 1],
  ['temperature', 34, 42, 0.1],
];

const MAX_ZONES = 10;
const HOME_RADIUS_M = 500;

/** Who may change the settings (the API's rule; the scope is checked there). */
function canWrite(): boolean {
  const role = me()?.role;
  return role === 'admin' || role === 'station_staff' || role === 'care_manager';
}

/** A zone being edited: its inputs, and how to read them back. */
interface ZoneEditor {
  el: HTMLElement;
  read: (n: number, problems: FieldErr[]) => Zone | null;
  /** The inputs for a field path under `safe_zones[i]` (`name`, `center`, `radius_m`, `points`). */
  inputs: Record<string, HTMLElement[]>;
}

/** The monitoring tab for the elder `e` (the record from GET /api/v1/elders/{id}). */
export async function monitoring(e: Obj): Promise<Node> {
  let view: MonitoringView;
  try {
    view = await get<MonitoringView>(`/api/v1/elders/${e.id}/monitoring`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return h('div', { class: 'notice', 'data-testid': 'monitoring-forbidden' }, t('c_withheld'));
    throw err;
  }
  const host = h('div', { 'data-testid': 'monitoring' });
  render(host, e, view, null);
  return host;
}

function render(host: HTMLElement, e: Obj, view: MonitoringView, saved: string | null): void {
  const writable = canWrite();
  const ro = !writable;
  const s = view.settings;

  // --- vital signs -------------------------------------------------------------------
  const vitalInputs = new Map<string, [HTMLInputElement, HTMLInputElement]>();
  const vitalRows = SIGNS.map(([kind, min, max, step]) => {
    const set = s.vital_limits.find((l) => l.kind === kind);
    const def = defaultLimit(view, kind);
    const input = (side: 'low' | 'high') =>
      h('input', {
        type: 'number',
        class: 'narrow',
        min,
        max,
        step,
        disabled: ro,
        value: set ? set[side] : '',
        placeholder: def ? String(def[side]) : '',
        'aria-label': `${label('vital', kind)} ${t(side === 'low' ? 'mon_low' : 'mon_high')}`,
        'data-testid': `mon-${kind}-${side}`,
      });
    const low = input('low');
    const high = input('high');
    vitalInputs.set(kind, [low, high]);
    return h('tr', { 'data-kind': kind }, h('td', null, label('vital', kind)), h('td', null, low), h('td', null, high), h('td', null, label('unit', kind)), h('td', { class: 'muted' }, `${min}~${max}`));
  });

  // --- safe zones ----------------------------------------------------------------------
  const zones: ZoneEditor[] = s.safe_zones.map((z) => zoneEditor(z, ro, (el) => removeZone(el)));
  const zoneList = h('div', { class: 'mon-zones', 'data-testid': 'mon-zones' });
  const home: Point | null = e.location ?? null;
  const addButtons = writable
    ? [
        h('button', { type: 'button', 'data-testid': 'mon-add-home', disabled: !home, title: home ? null : t('mon_no_home'), onclick: () => addZone({ name: t('mon_home_zone'), shape: 'circle', center: { lat: home!.lat, lon: home!.lon }, radius_m: HOME_RADIUS_M }) }, t('mon_add_home')),
        h('button', { type: 'button', 'data-testid': 'mon-add-circle', onclick: () => addZone({ name: '', shape: 'circle', center: { lat: NaN, lon: NaN }, radius_m: HOME_RADIUS_M }) }, t('mon_add_circle')),
        h('button', { type: 'button', 'data-testid': 'mon-add-polygon', onclick: () => addZone({ name: '', shape: 'polygon', points: [] }) }, t('mon_add_polygon')),
      ]
    : [];
  const showZones = () => {
    clear(zoneList, zones.length ? zones.map((z) => z.el) : h('p', { class: 'muted', 'data-testid': 'mon-no-zones' }, t('mon_no_zones')));
    zones.forEach((z, i) => {
      z.el.setAttribute('data-testid', `mon-zone-${i}`);
      z.el.querySelector('.mon-zone-title')!.textContent = t('mon_zone_n', { n: i + 1 });
    });
    for (const b of addButtons) if (b.dataset.testid !== 'mon-add-home' || home) b.disabled = zones.length >= MAX_ZONES;
  };
  const addZone = (z: Zone) => {
    zones.push(zoneEditor(z, ro, (el) => removeZone(el)));
    showZones();
  };
  const removeZone = (el: HTMLElement) => {
    const i = zones.findIndex((z) => z.el === el);
    if (i >= 0) zones.splice(i, 1);
    showZones();
  };
  showZones();

  // --- inactivity ----------------------------------------------------------------------
  const inactivity = h('input', {
    type: 'number',
    class: 'narrow',
    min: 30,
    max: 1440,
    step: 1,
    disabled: ro,
    value: s.inactivity_min ?? '',
    placeholder: String(view.defaults.inactivity_min),
    'aria-label': t('mon_inactivity_min'),
    'data-testid': 'mon-inactivity',
  });

  // --- saving --------------------------------------------------------------------------
  const msg = h('div', { class: 'cc-msg', role: 'status', 'data-testid': 'mon-msg' }, saved);
  const fail = (problems: FieldErr[], fields: Map<string, HTMLElement[]>, other?: string) => {
    for (const el of host.querySelectorAll('.invalid')) el.classList.remove('invalid');
    for (const p of problems) {
      // `safe_zones[0].points[3]` marks the polygon's text box, `vital_limits[2]` both inputs of that sign.
      const path = p.field.replace(/\[\d+\]$/, '');
      for (const el of fields.get(p.field) ?? fields.get(path) ?? []) el.classList.add('invalid');
    }
    msg.className = 'cc-msg error';
    clear(msg, other ?? null, problems.length ? h('ul', { class: 'mon-errors', 'data-testid': 'mon-errors' }, problems.map((p) => h('li', { 'data-field': p.field }, fieldText(p)))) : null);
  };
  const save = async () => {
    const problems: FieldErr[] = [];
    const fields = new Map<string, HTMLElement[]>();
    const vital_limits: VitalLimit[] = [];
    for (const [kind] of SIGNS) {
      const [low, high] = vitalInputs.get(kind)!;
      const def = defaultLimit(view, kind);
      const what = label('vital', kind);
      const lo = num(low, `${what} ${t('mon_low')}`, `vital_limits.${kind}`, problems);
      const hi = num(high, `${what} ${t('mon_high')}`, `vital_limits.${kind}`, problems);
      fields.set(`vital_limits.${kind}`, [low, high]);
      if (lo === undefined || hi === undefined || (lo === null && hi === null)) continue;
      // One side empty: that side keeps the default.
      fields.set(`vital_limits[${vital_limits.length}]`, [low, high]);
      vital_limits.push({ kind, low: lo ?? def?.low ?? NaN, high: hi ?? def?.high ?? NaN });
    }
    const safe_zones: Zone[] = [];
    zones.forEach((z, i) => {
      const zone = z.read(i + 1, problems);
      for (const [k, els] of Object.entries(z.inputs)) fields.set(`safe_zones[${i}].${k}`, els);
      if (zone) safe_zones.push(zone);
    });
    fields.set('safe_zones', addButtons);
    fields.set('inactivity_min', [inactivity]);
    const inact = num(inactivity, t('mon_inactivity_min'), 'inactivity_min', problems);
    // Numbers that are missing or unreadable are not sent (so the server's zone indices
    // below are the editors' too).
    if (problems.length) {
      fail(problems, fields);
      return;
    }
    const settings: Settings = { vital_limits, safe_zones, inactivity_min: inact ?? null };
    saveBtn.disabled = true;
    try {
      const next = await put<MonitoringView>(`/api/v1/elders/${e.id}/monitoring`, settings, { 'If-Match': String(view.version) });
      render(host, e, next, t('mon_saved'));
    } catch (err) {
      saveBtn.disabled = false;
      if (err instanceof ApiError) {
        const list = err.fieldErrors();
        fail(list, fields, list.length ? undefined : err.text());
      } else {
        fail([], fields, String((err as Error)?.message ?? err));
      }
    }
  };
  const saveBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'mon-save' }, t('save'));
  const form = h(
    'form',
    { class: 'mon-form', novalidate: true },
    ro ? h('div', { class: 'notice', 'data-testid': 'mon-read-only' }, t('mon_read_only')) : null,
    h(
      'section',
      { class: 'card' },
      h('h2', null, t('mon_vitals')),
      h('p', { class: 'muted' }, t('mon_vitals_hint')),
      h(
        'table',
        { class: 'grid mon-vitals', 'data-testid': 'mon-vitals' },
        h('thead', null, h('tr', null, [t('mon_sign'), t('mon_low'), t('mon_high'), t('mon_unit'), t('mon_settable')].map((x) => h('th', null, x)))),
        h('tbody', null, vitalRows),
      ),
    ),
    h('section', { class: 'card' }, h('h2', null, t('mon_zones')), h('p', { class: 'muted' }, t('mon_zones_hint')), zoneList, writable ? h('div', { class: 'filters' }, addButtons) : null),
    h(
      'section',
      { class: 'card' },
      h('h2', null, t('mon_inactivity')),
      h('label', { class: 'mon-field' }, t('mon_inactivity_min'), inactivity),
      h('p', { class: 'muted' }, t('mon_inactivity_hint', { n: view.defaults.inactivity_min, hours: view.defaults.waking_hours })),
    ),
    writable ? h('div', { class: 'filters' }, saveBtn) : null,
    msg,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void save();
  });
  clear(host, form);
}

/**
 * The default limits of a sign as the form shows and sends them: within the range a limit may
 * be set in (the detector's SpO2 high of 101, i.e. none, is 100: the same alarms) and without
 * the detector's single-precision noise (37.79999923706055 is 37.8).
 */
function defaultLimit(view: MonitoringView, kind: string): { low: number; high: number } | undefined {
  const d = view.defaults.vital_limits.find((l) => l.kind === kind);
  const sign = SIGNS.find(([k]) => k === kind);
  if (!d || !sign) return undefined;
  const [, min, max] = sign;
  const tidy = (v: number) => Math.min(max, Math.max(min, Math.round(v * 100) / 100));
  return { low: tidy(d.low), high: tidy(d.high) };
}

/**
 * A number input's value: `null` when empty, `undefined` (and a problem under `field`) when
 * the browser could not read it as a number.
 */
function num(input: HTMLInputElement, what: string, field: string, problems: FieldErr[]): number | null | undefined {
  if (input.validity.badInput) {
    problems.push(problem(field, 'mon_not_number', { what }));
    return undefined;
  }
  const v = input.value.trim();
  if (v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    problems.push(problem(field, 'mon_not_number', { what }));
    return undefined;
  }
  return n;
}

/** A problem found before sending, in the server's error shape (both languages). */
function problem(field: string, key: Key, vars: Record<string, string | number>): FieldErr {
  return { field, code: 'client', zh: t(key, vars), en: t(key, vars) };
}

function zoneEditor(z: Zone, ro: boolean, onRemove: (el: HTMLElement) => void): ZoneEditor {
  const name = h('input', { value: z.name, maxlength: 40, disabled: ro, placeholder: t('mon_zone_name'), 'aria-label': t('mon_zone_name'), 'data-testid': 'mon-zone-name' });
  const title = h('b', { class: 'mon-zone-title' });
  const shape = h('span', { class: 'tag', 'data-shape': z.shape }, t(z.shape === 'circle' ? 'mon_shape_circle' : 'mon_shape_polygon'));
  const remove = ro ? null : h('button', { type: 'button', class: 'small', 'data-testid': 'mon-zone-remove', onclick: () => onRemove(el) }, t('mon_remove'));
  let el: HTMLElement;
  if (z.shape === 'circle') {
    const coord = (v: number, key: Key, min: number, max: number, testid: string) =>
      h('input', { type: 'number', class: 'coord', min, max, step: 'any', disabled: ro, value: Number.isFinite(v) ? v : '', 'aria-label': t(key), 'data-testid': testid });
    const lat = coord(z.center.lat, 'mon_lat', -90, 90, 'mon-zone-lat');
    const lon = coord(z.center.lon, 'mon_lon', -180, 180, 'mon-zone-lon');
    const radius = h('input', { type: 'number', class: 'narrow', min: 50, max: 20000, step: 10, disabled: ro, value: z.radius_m, 'aria-label': t('mon_radius'), 'data-testid': 'mon-zone-radius' });
    el = h(
      'div',
      { class: 'mon-zone', 'data-shape': 'circle' },
      h('div', { class: 'filters' }, title, shape, name, remove),
      h('div', { class: 'filters' }, h('label', { class: 'mon-field' }, t('mon_lat'), lat), h('label', { class: 'mon-field' }, t('mon_lon'), lon), h('label', { class: 'mon-field' }, t('mon_radius'), radius)),
    );
    return {
      el,
      inputs: { name: [name], center: [lat, lon], radius_m: [radius] },
      read: (n, problems) => {
        const what = t('mon_zone_n', { n });
        const before = problems.length;
        const vals = ([[lat, 'mon_lat', 'center'], [lon, 'mon_lon', 'center'], [radius, 'mon_radius', 'radius_m']] as const).map(([input, key, f]) => {
          const v = num(input, `${what} ${t(key)}`, `safe_zones[${n - 1}].${f}`, problems);
          if (v === null) problems.push(problem(`safe_zones[${n - 1}].${f}`, 'mon_required', { what, field: t(key) }));
          return v;
        });
        if (problems.length > before) return null;
        const [la, lo, r] = vals as number[];
        return { name: name.value, shape: 'circle', center: { lat: la, lon: lo }, radius_m: r };
      },
    };
  }
  const text = h('textarea', {
    rows: 4,
    cols: 28,
    disabled: ro,
    placeholder: '40.0700,113.3000\n40.0700,113.3100\n40.0800,113.3000',
    'aria-label': t('mon_points'),
    'data-testid': 'mon-zone-points',
  });
  text.value = z.points.map((p) => `${p.lat},${p.lon}`).join('\n');
  el = h('div', { class: 'mon-zone', 'data-shape': 'polygon' }, h('div', { class: 'filters' }, title, shape, name, remove), h('label', { class: 'mon-field mon-points' }, t('mon_points'), text));
  return {
    el,
    inputs: { name: [name], points: [text] },
    read: (n, problems) => {
      const what = t('mon_zone_n', { n });
      const points: Point[] = [];
      const before = problems.length;
      text.value
        .split('\n')
        .map((l) => l.trim())
        .forEach((line, i) => {
          if (line === '') return;
          // "40.07,113.30", also with a Chinese comma or spaces.
          const m = /^(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)$/.exec(line);
          if (m) points.push({ lat: Number(m[1]), lon: Number(m[2]) });
          else problems.push(problem(`safe_zones[${n - 1}].points`, 'mon_bad_line', { what, line: i + 1 }));
        });
      return problems.length > before ? null : { name: name.value, shape: 'polygon', points };
    },
  };
}
