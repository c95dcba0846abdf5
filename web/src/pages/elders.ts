// The elder registry (老人台账): search and filters over /api/v1/elders, and a detail page
// with tabs for the record, devices, alarms, service orders, meals and monitoring settings
// (`?tab=monitoring` opens that one).

import { get, qs, Page, download, me } from '../api';
import { h, clear, select } from '../dom';
import { t, label, fmtTime, Key } from '../i18n';
import { link } from '../main';
import { table, pager } from './common';
import { itemNames, yuan, stateTag, when, stars, splitLines, Obj } from './svc';
import { monitoring } from './monitoring';

interface Region {
  code: string;
  name: string;
}

const LIVING = ['alone', 'empty_nest', 'with_children', 'institutional', 'other'];
const ECONOMIC = ['dibao', 'tekun', 'wubao', 'hardship', 'general'];

export async function eldersPage(root: HTMLElement, params: Record<string, string>): Promise<void> {
  const f = {
    q: params.q ?? '',
    region: params.region ?? '',
    living: params.living ?? '',
    economic: params.economic ?? '',
    age_min: params.age_min ?? '',
    has_device: params.has_device ?? '',
    page: Number(params.page ?? 1),
  };
  const streets = await get<Region[]>('/api/v1/regions').then(async (top) => {
    const county = top[0];
    return county ? get<Region[]>(`/api/v1/regions${qs({ parent: county.code })}`) : [];
  }).catch(() => [] as Region[]);
  const q = h('input', { name: 'q', value: f.q, placeholder: t('r_search_placeholder'), 'data-testid': 'q' });
  const region = select('region', [['', `${t('r_street')}: ${t('all')}`], ...streets.map((r) => [r.code, r.name] as [string, string])], f.region);
  const living = select('living', [['', `${t('f_living')}: ${t('all')}`], ...LIVING.map((x) => [x, label('living', x)] as [string, string])], f.living);
  const economic = select('economic', [['', `${t('f_economic')}: ${t('all')}`], ...ECONOMIC.map((x) => [x, label('econ', x)] as [string, string])], f.economic);
  const ageMin = h('input', { name: 'age_min', type: 'number', min: 0, max: 150, value: f.age_min, placeholder: t('r_age_min'), class: 'narrow' });
  const hasDevice = select('has_device', [['', `${t('r_has_device')}: ${t('all')}`], ['true', t('yes')], ['false', t('no')]], f.has_device);
  const list = h('div', { class: 'list' });
  const pagerEl = h('div', { class: 'pager' });
  const filters = () => ({ q: q.value.trim(), region: region.value, living: living.value, economic: economic.value, age_min: ageMin.value, has_device: hasDevice.value });
  const load = async (page: number) => {
    const query = { ...filters(), page, per_page: 20 };
    history.replaceState(null, '', `/registry/elders${qs({ ...filters(), page: page > 1 ? page : undefined })}`);
    const p = await get<Page<Record<string, any>>>(`/api/v1/elders${qs(query)}`);
    clear(
      list,
      table(
        p.items,
        [
          { head: t('f_name'), cell: (e) => h('a', { href: `/registry/elders/${e.id}`, onclick: link(`/registry/elders/${e.id}`), 'data-testid': `elder-${e.id}` }, e.name) },
          { head: t('f_sex'), cell: (e) => label('sex', e.sex) },
          { head: t('f_age'), cell: (e) => e.age },
          { head: t('f_id_number'), cell: (e) => e.id_number },
          { head: t('f_phone'), cell: (e) => e.phone },
          { head: t('f_address'), cell: (e) => e.address },
          { head: t('f_living'), cell: (e) => label('living', e.living) },
          { head: t('f_economic'), cell: (e) => label('econ', e.economic) },
          { head: t('f_capability'), cell: (e) => label('cap', e.capability) },
          { head: t('f_card'), cell: (e) => e.card_no },
        ],
        'elders',
      ),
    );
    pager(pagerEl, p.page, p.per_page, p.total, (n) => void load(n));
  };
  const role = me()?.role;
  const canExport = role === 'admin' || role === 'supervisor' || role === 'station_staff';
  const form = h(
    'form',
    { class: 'filters' },
    q,
    region,
    living,
    economic,
    ageMin,
    hasDevice,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'search' }, t('search')),
    h('button', { type: 'button', onclick: () => { for (const el of [q, ageMin]) el.value = ''; for (const s of [region, living, economic, hasDevice]) s.value = ''; void load(1); } }, t('reset')),
    canExport ? h('button', { type: 'button', onclick: () => void download(`/api/v1/ledger/export${qs(filters())}`, 'elders.xlsx') }, t('r_export')) : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load(1);
  });
  clear(root, h('h1', null, t('nav_elders')), form, list, pagerEl);
  await load(f.page);
}

export async function elderDetail(root: HTMLElement, params: Record<string, string>): Promise<void> {
  const id = Number(params.id);
  const e = await get<Record<string, any>>(`/api/v1/elders/${id}`);
  const tabs: [Key, string, () => Promise<Node>][] = [
    ['r_tab_record', 'record', async () => record(e)],
    ['r_tab_devices', 'devices', async () => devices(id)],
    ['r_tab_alarms', 'alarms', async () => alarms(id)],
    ['r_tab_orders', 'orders', async () => elderOrders(id)],
    ['r_tab_meals', 'meals', async () => elderMeals(id)],
    ['r_tab_monitoring', 'monitoring', async () => monitoring(e)],
  ];
  const body = h('div', { class: 'tab-body' });
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  const show = async (i: number) => {
    history.replaceState(null, '', `/registry/elders/${id}${qs({ tab: i === 0 ? undefined : tabs[i][1] })}`);
    for (const [j, b] of [...bar.children].entries()) b.classList.toggle('active', i === j);
    clear(body, t('loading'));
    try {
      clear(body, await tabs[i][2]());
    } catch (err) {
      clear(body, h('div', { class: 'notice error' }, String((err as Error).message)));
    }
  };
  tabs.forEach(([key], i) => bar.append(h('button', { role: 'tab', 'data-testid': `tab-${key}`, onclick: () => void show(i) }, t(key))));
  clear(
    root,
    h('a', { href: '/registry/elders', onclick: link('/registry/elders'), class: 'back' }, '← ', t('r_back')),
    h('h1', { 'data-testid': 'elder-name' }, e.name, h('small', null, ` ${label('sex', e.sex)} · ${e.age} · ${label('status', e.status)}`)),
    bar,
    body,
  );
  await show(Math.max(0, tabs.findIndex(([, tab]) => tab === params.tab)));
}

function kv(k: Key, v: unknown, masked = false): HTMLElement {
  return h('div', { class: 'kv' }, h('span', { class: 'k' }, t(k)), h('span', { class: 'v' }, v == null || v === '' ? t('dash') : String(v), masked ? h('span', { class: 'tag' }, t('f_masked')) : null));
}

function record(e: Record<string, any>): Node {
  const m: string[] = e.masked ?? [];
  const hr = e.health;
  return h(
    'div',
    { class: 'cards', 'data-testid': 'record' },
    h(
      'div',
      { class: 'card' },
      kv('f_id_number', e.id_number, m.includes('id_number')),
      kv('f_phone', e.phone, m.includes('phone')),
      kv('f_address', e.address, m.includes('address')),
      kv('f_region', e.region_code),
      kv('f_hukou', label('hukou', e.hukou)),
      kv('f_living', label('living', e.living)),
      kv('f_economic', label('econ', e.economic)),
      kv('f_capability', label('cap', e.capability)),
      kv('f_card', e.card_no),
      kv('f_balance', `¥${(e.card_balance_fen / 100).toFixed(2)}`),
    ),
    h(
      'div',
      { class: 'card' },
      h('h3', null, t('c_health')),
      hr ? [kv('f_chronic', hr.chronic_conditions?.join('、')), kv('f_allergies', hr.allergies?.join('、')), kv('f_medications', hr.medications?.join('、')), kv('f_blood', hr.blood_type), kv('f_doctor', hr.family_doctor)] : h('p', { class: 'muted' }, t('c_withheld')),
      h('h3', null, t('c_contacts')),
      e.contacts ? h('ol', null, e.contacts.map((c: any) => h('li', null, `${c.name}（${c.relation}）${c.phone}`))) : h('p', { class: 'muted' }, t('c_withheld')),
    ),
  );
}

async function devices(id: number): Promise<Node> {
  const list = await get<Record<string, any>[]>(`/api/v1/elders/${id}/devices`);
  return table(list, [
    { head: t('f_serial'), cell: (d) => d.serial },
    { head: t('f_kind'), cell: (d) => label('dev', d.kind) },
    { head: t('f_model'), cell: (d) => d.model },
    { head: t('f_active'), cell: (d) => (d.active ? t('yes') : t('no')) },
  ], 'elder-devices');
}

async function alarms(id: number): Promise<Node> {
  const p = await get<Page<Record<string, any>>>(`/api/v1/alarms${qs({ elder_id: id, per_page: 50 })}`);
  return table(p.items, [
    { head: '#', cell: (a) => a.alarm.id },
    { head: t('f_kind'), cell: (a) => label('kind', a.alarm.kind) },
    { head: t('f_status'), cell: (a) => label('stage', a.alarm.stage) },
    { head: t('c_raised_at'), cell: (a) => fmtTime(a.alarm.raised_at) },
  ], 'elder-alarms');
}

export async function elderOrders(id: number): Promise<Node> {
  const name = await itemNames();
  const p = await get<Page<Obj>>(`/api/v1/orders${qs({ elder_id: id, per_page: 50 })}`);
  return table(p.items, [
    { head: '#', cell: (o) => o.id },
    { head: t('o_item'), cell: (o) => name(o.item) },
    { head: t('o_state'), cell: (o) => stateTag(o.state) },
    { head: t('o_when'), cell: (o) => when(o) },
    { head: t('o_created'), cell: (o) => fmtTime(o.created_at) },
    { head: t('o_price'), cell: (o) => yuan(o.price_fen) },
    { head: t('o_caregiver'), cell: (o) => (o.caregiver_id ? `#${o.caregiver_id}` : t('dash')) },
    { head: t('o_rating'), cell: (o) => (o.rating ? stars(o.rating.stars) : null) },
    { head: t('o_settlement'), cell: (o) => splitLines(o.settlement) },
  ], 'elder-orders');
}

async function elderMeals(id: number): Promise<Node> {
  const p = await get<Page<Obj>>(`/api/v1/meals/orders${qs({ elder_id: id, per_page: 100 })}`);
  return table(p.items, [
    { head: '#', cell: (r) => r.id },
    { head: t('ml_date'), cell: (r) => `${r.order.date} ${label('slot', r.order.slot)}` },
    { head: t('ml_canteen'), cell: (r) => `#${r.order.canteen}` },
    { head: t('ml_option'), cell: (r) => r.order.option },
    { head: t('ml_fulfilment'), cell: (r) => label('ful', r.order.fulfilment) },
    { head: t('o_price'), cell: (r) => yuan(r.order.price) },
    { head: t('ml_elder_pays'), cell: (r) => yuan(r.elder_pays_fen) },
    { head: t('o_state'), cell: (r) => label('mealst', r.order.state) },
  ], 'elder-meals');
}
