// Facilities, staff accounts and devices (with each wearer's live state from the map
// snapshot): read-only lists with filters and paging.

import { get, qs, Page, ApiError } from '../api';
import { h, clear, select } from '../dom';
import { t, label, Key } from '../i18n';
import { table, pager } from './common';

const FACILITY_KINDS = ['centre', 'station', 'day_care', 'canteen', 'meal_point', 'central_kitchen', 'nursing_home', 'happiness_courtyard'];
const ROLES = ['admin', 'supervisor', 'operator', 'caregiver', 'care_manager', 'station_staff', 'family'];

export async function facilitiesPage(root: HTMLElement): Promise<void> {
  const q = h('input', { name: 'q', placeholder: t('f_name') });
  const kind = select('kind', [['', `${t('r_facility_kind')}: ${t('all')}`], ...FACILITY_KINDS.map((k) => [k, label('fac', k)] as [string, string])], '');
  const list = h('div');
  const pagerEl = h('div', { class: 'pager' });
  const load = async (page: number) => {
    const p = await get<Page<Record<string, any>>>(`/api/v1/facilities${qs({ q: q.value.trim(), kind: kind.value, page, per_page: 20 })}`);
    clear(list, table(p.items, [
      { head: t('f_name'), cell: (f) => f.name },
      { head: t('r_facility_kind'), cell: (f) => label('fac', f.kind) },
      { head: t('f_address'), cell: (f) => f.address },
      { head: t('f_opening'), cell: (f) => f.opening_hours },
      { head: t('f_radius'), cell: (f) => `${f.service_radius_m} m` },
      { head: t('f_operator_org'), cell: (f) => f.operator_org },
      { head: t('f_phone'), cell: (f) => f.phone },
      { head: t('f_active'), cell: (f) => (f.active ? t('yes') : t('no')) },
    ], 'facilities'));
    pager(pagerEl, p.page, p.per_page, p.total, (n) => void load(n));
  };
  clear(root, h('h1', null, t('nav_facilities')), filterForm([q, kind], () => void load(1)), list, pagerEl);
  await load(1);
}

export async function staffPage(root: HTMLElement): Promise<void> {
  const role = select('role', [['', `${t('f_role')}: ${t('all')}`], ...ROLES.map((r) => [r, t(`role_${r}` as Key)] as [string, string])], '');
  const list = h('div');
  const pagerEl = h('div', { class: 'pager' });
  const load = async (page: number) => {
    const p = await get<Page<Record<string, any>>>(`/api/v1/accounts${qs({ role: role.value, page, per_page: 20 })}`);
    clear(list, table(p.items, [
      { head: t('username'), cell: (a) => a.username },
      { head: t('f_display_name'), cell: (a) => a.display_name },
      { head: t('f_role'), cell: (a) => t(`role_${a.role}` as Key) },
      { head: t('f_phone'), cell: (a) => a.phone },
      { head: t('f_region'), cell: (a) => a.region },
      { head: t('f_facility'), cell: (a) => a.facility_id },
      { head: t('f_skills'), cell: (a) => a.skills?.join('、') },
      { head: t('f_active'), cell: (a) => (a.active ? t('yes') : t('no')) },
    ], 'staff'));
    pager(pagerEl, p.page, p.per_page, p.total, (n) => void load(n));
  };
  clear(root, h('h1', null, t('nav_staff')), filterForm([role], () => void load(1)), list, pagerEl);
  await load(1);
}

export async function devicesPage(root: HTMLElement): Promise<void> {
  // Online state per device from the wearer map (the same scope as this list).
  const states = new Map<number, number>();
  const up = new Map<number, number>();
  try {
    const m = await get<{ ids: number[]; state: number[]; up: number[] }>('/api/v1/map/wearers');
    m.ids.forEach((id, i) => {
      states.set(id, m.state[i]);
      up.set(id, m.up[i]);
    });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  const stateCell = (d: Record<string, any>) => {
    if (!states.has(d.id)) return h('span', { class: 'muted' }, t('dash'));
    const s = states.get(d.id);
    const [cls, key]: [string, Key] = s === 1 ? ['alarm', 'in_alarm'] : up.get(d.id) ? ['normal', 'online'] : ['offline', 'offline'];
    return h('span', { class: `state ${cls}` }, h('span', { class: `dot ${cls}` }), t(key));
  };
  const list = h('div');
  const pagerEl = h('div', { class: 'pager' });
  const load = async (page: number) => {
    const p = await get<Page<Record<string, any>>>(`/api/v1/devices${qs({ page, per_page: 20 })}`);
    clear(list, table(p.items, [
      { head: t('f_serial'), cell: (d) => d.serial },
      { head: t('f_kind'), cell: (d) => label('dev', d.kind) },
      { head: t('f_model'), cell: (d) => d.model },
      { head: t('f_elder'), cell: (d) => d.elder_id },
      { head: t('f_online'), cell: stateCell },
      { head: t('f_active'), cell: (d) => (d.active ? t('yes') : t('no')) },
    ], 'devices'));
    pager(pagerEl, p.page, p.per_page, p.total, (n) => void load(n));
  };
  clear(root, h('h1', null, t('nav_devices')), list, pagerEl);
  await load(1);
}

function filterForm(fields: HTMLElement[], go: () => void): HTMLFormElement {
  const f = h('form', { class: 'filters' }, fields, h('button', { type: 'submit', class: 'primary' }, t('search')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    go();
  });
  return f;
}
