// Services and meals (服务与助餐) for operators, station staff, supervisors and admin, on
// issue 5's API: the order board by state with the order's detail and history, placing an
// order for an elder and assigning a caregiver; complaints with their deadlines; menus per
// canteen and day, meal orders, the kitchen's production list, the stations' delivery rounds
// and meals served; monthly statements and caregivers' pay.

import { get, post, put, del, qs, Page, me } from '../api';
import { h, clear, select } from '../dom';
import { t, label, fmtTime, Key } from '../i18n';
import type { Cleanup } from '../main';
import { table } from './common';
import { itemNames, items, yuan, stateTag, when, stars, km, messenger, splitLines, Obj } from './svc';

const TABS: [Key, string][] = [
  ['sv_tab_board', 'board'],
  ['sv_tab_complaints', 'complaints'],
  ['sv_tab_meals', 'meals'],
  ['sv_tab_statements', 'statements'],
];

/** Board columns: one or more states each. */
const COLUMNS: [string, string[]][] = [
  ['o_col_waiting', ['created', 'published']],
  ['ost_taken', ['taken']],
  ['ost_on_the_way', ['on_the_way']],
  ['ost_checked_in', ['checked_in']],
  ['ost_completed', ['completed']],
  ['ost_rated', ['rated']],
  ['ost_settled', ['settled']],
  ['o_col_ended', ['cancelled', 'no_show', 'expired']],
];

export async function servicesPage(root: HTMLElement, params: Record<string, string>): Promise<Cleanup> {
  const role = me()!.role;
  const tabs = TABS.filter(([, id]) => id !== 'statements' || ['admin', 'supervisor', 'station_staff'].includes(role));
  const body = h('div', { class: 'tab-body' });
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  let cleanup: Cleanup;
  const show = async (id: string) => {
    if (typeof cleanup === 'function') cleanup();
    cleanup = undefined;
    history.replaceState(null, '', `/services${qs({ tab: id === 'board' ? undefined : id })}`);
    for (const b of bar.children) b.classList.toggle('active', (b as HTMLElement).dataset.tab === id);
    clear(body, t('loading'));
    try {
      if (id === 'board') cleanup = await board(body);
      else if (id === 'complaints') await complaints(body);
      else if (id === 'meals') await meals(body);
      else await statements(body);
    } catch (e) {
      clear(body, h('div', { class: 'notice error' }, String((e as Error).message ?? e)));
    }
  };
  for (const [key, id] of tabs) bar.append(h('button', { role: 'tab', 'data-tab': id, 'data-testid': `sv-tab-${id}`, onclick: () => void show(id) }, t(key)));
  clear(root, h('h1', null, t('services_title')), bar, body);
  await show(tabs.some(([, id]) => id === params.tab) ? params.tab : 'board');
  return () => {
    if (typeof cleanup === 'function') cleanup();
  };
}

// ---------------------------------------------------------------------------------------
// The order board

async function board(root: HTMLElement): Promise<Cleanup> {
  const role = me()!.role;
  const canPlace = ['admin', 'operator', 'station_staff', 'care_manager'].includes(role);
  const name = await itemNames();
  const m = messenger();
  const cols = h('div', { class: 'board', 'data-testid': 'board' });
  const detail = h('section', { class: 'card order-detail', 'data-testid': 'order-detail' }, h('p', { class: 'muted' }, t('o_pick')));
  let selected: number | null = null;

  const load = async () => {
    const lists = await Promise.all(COLUMNS.map(([, states]) => get<Page<Obj>>(`/api/v1/orders${qs({ state: states.join(','), per_page: 30 })}`)));
    clear(
      cols,
      COLUMNS.map(([key, states], i) =>
        h(
          'div',
          { class: 'board-col', 'data-testid': `col-${states[0]}` },
          h('h3', null, t(key as Key), h('span', { class: 'tag', 'data-testid': `count-${states[0]}` }, String(lists[i].total))),
          lists[i].items.map((o) =>
            h(
              'div',
              { class: `board-card${o.id === selected ? ' sel' : ''}`, 'data-testid': `board-order-${o.id}`, 'data-state': o.state, onclick: () => void open(o.id) },
              h('div', null, h('b', null, `#${o.id} ${name(o.item)}`)),
              h('div', null, o.elder.name, ' · ', yuan(o.price_fen)),
              h('div', { class: 'muted' }, when(o), o.escalated ? h('span', { class: 'tag warn' }, '!') : null),
            ),
          ),
        ),
      ),
    );
  };

  const open = async (id: number) => {
    selected = id;
    for (const c of cols.querySelectorAll('.board-card')) c.classList.toggle('sel', (c as HTMLElement).dataset.testid === `board-order-${id}`);
    const o = await get<Obj>(`/api/v1/orders/${id}`);
    const actions: Node[] = [];
    const open_ = ['created', 'published', 'taken', 'on_the_way'].includes(o.state);
    if (['admin', 'operator', 'station_staff'].includes(role) && ['created', 'published', 'taken'].includes(o.state)) {
      const cands = await get<Obj[]>(`/api/v1/orders/${id}/candidates`).catch(() => [] as Obj[]);
      const pick = select(
        'assign-to',
        cands.length
          ? cands.map((c) => [String(c.id), `${c.name}${c.qualified ? '' : ` ✗ ${c.why_zh ?? ''}`} · ${c.on_duty ? t('o_on_duty') : t('o_off_duty')} · ${km(c.distance_m)}`] as [string, string])
          : [['', t('o_candidates_none')]],
        cands.find((c) => c.qualified) ? String(cands.find((c) => c.qualified)!.id) : '',
      );
      actions.push(h('span', { class: 'group' }, t('o_assign_to'), ' ', pick, h('button', { class: 'primary', 'data-testid': 'do-assign', disabled: !cands.length, onclick: () => void act(id, 'assign', { caregiver_id: Number(pick.value) }, t('o_assigned_ok')) }, t('o_assign'))));
    }
    if (o.state === 'created' && role !== 'supervisor') actions.push(h('button', { 'data-testid': 'do-publish', onclick: () => void act(id, 'publish', {}) }, t('o_publish')));
    if (open_ && role !== 'supervisor') {
      const reason = select('cancel-reason', ['not_needed', 'rescheduled', 'hospitalised', 'family_arranged', 'duplicate', 'no_caregiver', 'caregiver_unavailable'].map((r) => [r, label('cancel', r)] as [string, string]), 'not_needed');
      actions.push(h('span', { class: 'group' }, reason, h('button', { class: 'danger', 'data-testid': 'do-cancel', onclick: () => void act(id, 'cancel', { reason: reason.value }) }, t('o_cancel'))));
    }
    clear(
      detail,
      h('h2', null, `${t('o_detail')} #${o.id} `, stateTag(o.state)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_item')), h('span', { class: 'v' }, `${name(o.item)}（${label('svccat', o.category)}）`)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_elder')), h('span', { class: 'v', 'data-testid': 'detail-elder' }, `${o.elder.name} · ${o.elder.address} · ${o.elder.phone ?? t('dash')}`)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_when')), h('span', { class: 'v' }, when(o))),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_price')), h('span', { class: 'v' }, yuan(o.price_fen), ` · ${o.duration_min} min`)),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_channel')), h('span', { class: 'v' }, label('chan', o.channel))),
      h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_caregiver')), h('span', { class: 'v', 'data-testid': 'detail-caregiver' }, o.caregiver_id ? `#${o.caregiver_id}` : t('dash'))),
      o.note ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_note')), h('span', { class: 'v' }, o.note)) : null,
      o.served_min != null ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('cg_notes')), h('span', { class: 'v' }, t('o_served_min', { n: o.served_min }), ' ', o.service_notes)) : null,
      o.rating ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_rating')), h('span', { class: 'v stars' }, stars(o.rating.stars), ' ', o.rating.text)) : null,
      o.settlement ? h('div', { class: 'kv' }, h('span', { class: 'k' }, t('o_settlement')), h('span', { class: 'v' }, splitLines(o.settlement))) : null,
      actions.length ? h('div', { class: 'cc-actions' }, actions) : null,
      h('h3', null, t('o_history')),
      h('ol', { class: 'timeline', 'data-testid': 'order-history' }, (o.events as Obj[]).map((e) => h('li', null, h('time', null, fmtTime(e.at)), ' ', label('oact', e.action), ` · ${label('oactor', e.actor_role)}${e.actor_id ? ` #${e.actor_id}` : ''} · ${label('ost', e.from_state)} → ${label('ost', e.to_state)}`))),
    );
  };

  const act = async (id: number, action: string, body: Obj, ok = t('o_done')) => {
    try {
      await post(`/api/v1/orders/${id}/${action}`, body);
      m.say(`#${id} ${ok}`);
    } catch (e) {
      m.fail(e);
    }
    await load();
    await open(id);
  };

  const form = canPlace ? await newOrderForm(m, async (id) => { await load(); await open(id); }) : null;
  clear(root, m.el, form, h('div', { class: 'board-wrap' }, cols, detail), h('button', { onclick: () => void load(), 'data-testid': 'board-refresh' }, t('o_refresh')));
  await load();
  const timer = setInterval(() => void load(), 10_000);
  return () => clearInterval(timer);
}

async function newOrderForm(m: ReturnType<typeof messenger>, done: (id: number) => Promise<void>): Promise<HTMLElement> {
  const list = await items();
  const q = h('input', { placeholder: t('o_find_elder'), 'data-testid': 'new-elder-q' });
  const elder = select('new-elder', [['', t('o_pick_elder')]], '');
  const item = select('new-item', list.filter((i) => i.active).map((i) => [i.code, `${label('svccat', i.category)} · ${i.name_zh} ${yuan(i.price_fen)}`] as [string, string]), list[0]?.code ?? '');
  const at = h('input', { type: 'datetime-local', 'data-testid': 'new-at', title: t('o_schedule_at') });
  const note = h('input', { placeholder: t('o_note'), 'data-testid': 'new-note' });
  const find = async () => {
    const p = await get<Page<Obj>>(`/api/v1/elders${qs({ q: q.value.trim(), per_page: 20 })}`);
    clear(elder, p.items.length ? p.items.map((e) => h('option', { value: e.id }, `${e.name} · ${e.age} · ${e.address}`)) : h('option', { value: '' }, t('r_no_items')));
  };
  q.addEventListener('change', () => void find());
  const f = h(
    'form',
    { class: 'filters card', 'data-testid': 'new-order' },
    h('b', null, t('o_new')),
    q,
    h('button', { type: 'button', 'data-testid': 'new-find', onclick: () => void find() }, t('search')),
    elder,
    item,
    h('label', { class: 'muted' }, t('o_schedule_at'), ' ', at),
    note,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-submit' }, t('o_create')),
  );
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const body: Obj = { elder_id: Number(elder.value), item: item.value, note: note.value };
      if (at.value) body.scheduled_at = new Date(at.value).getTime();
      const o = await post<Obj>('/api/v1/orders', body);
      m.say(t('o_created_ok', { id: o!.id }));
      await done(o!.id);
    } catch (err) {
      m.fail(err);
    }
  });
  return f;
}

// ---------------------------------------------------------------------------------------
// Complaints

async function complaints(root: HTMLElement): Promise<void> {
  const role = me()!.role;
  const canHandle = ['admin', 'supervisor', 'operator', 'station_staff'].includes(role);
  const m = messenger();
  const list = h('div');
  const act = async (id: number, action: string, body: Obj = {}) => {
    try {
      await post(`/api/v1/complaints/${id}/${action}`, body);
      m.say(`#${id} ${t('o_done')}`);
    } catch (e) {
      m.fail(e);
    }
    await load();
  };
  const load = async () => {
    const p = await get<Page<Obj>>(`/api/v1/complaints${qs({ per_page: 100 })}`);
    clear(
      list,
      p.items.length
        ? table(
            p.items,
            [
              { head: '#', cell: (c) => c.id },
              { head: t('cp_kind'), cell: (c) => label('ckind', c.kind) },
              { head: t('o_detail'), cell: (c) => (c.order_id ? `#${c.order_id}` : t('dash')) },
              { head: t('cp_text'), cell: (c) => c.text },
              { head: t('cp_opened'), cell: (c) => fmtTime(c.opened_at) },
              { head: t('cp_deadline'), cell: (c) => h('span', { class: c.overdue ? 'timer over' : '' }, fmtTime(c.deadline), c.overdue ? h('span', { class: 'tag warn' }, t('cp_overdue')) : null) },
              { head: t('o_state'), cell: (c) => label('cst', c.state) },
              {
                head: '',
                cell: (c) => {
                  if (!canHandle) return null;
                  if (c.state === 'open') return h('button', { onclick: () => void act(c.id, 'accept') }, t('cp_accept'));
                  if (c.state === 'handling') {
                    const upheld = h('input', { type: 'checkbox' });
                    const res = h('input', { placeholder: t('cp_resolution') });
                    return h('span', null, h('label', null, upheld, t('cp_upheld')), ' ', res, h('button', { class: 'primary', onclick: () => void act(c.id, 'resolve', { upheld: upheld.checked, resolution: res.value }) }, t('cp_resolve')));
                  }
                  return c.resolution || null;
                },
              },
            ],
            'complaints',
          )
        : h('div', { class: 'notice', 'data-testid': 'complaints' }, t('cp_none')),
    );
  };
  clear(root, m.el, list);
  await load();
}

// ---------------------------------------------------------------------------------------
// Meals

function isoDay(offset: number): string {
  const d = new Date(Date.now() + 8 * 3_600_000 + offset * 86_400_000);
  return d.toISOString().slice(0, 10);
}

async function meals(root: HTMLElement): Promise<void> {
  const role = me()!.role;
  const canEdit = role === 'admin' || role === 'station_staff';
  const kitchen = ['admin', 'supervisor', 'station_staff'].includes(role);
  const m = messenger();
  const canteens = await get<Page<Obj>>(`/api/v1/facilities${qs({ kind: 'canteen', per_page: 100 })}`).then((p) => p.items).catch(() => [] as Obj[]);
  const mineId = me()!.facility_id;
  const canteen = select('canteen', canteens.map((c) => [String(c.id), c.name] as [string, string]), String(canteens.find((c) => c.id === mineId)?.id ?? canteens[0]?.id ?? ''));
  const date = h('input', { type: 'date', value: isoDay(1), 'data-testid': 'meal-date' });
  const slot = select('slot', ['breakfast', 'lunch', 'dinner'].map((s) => [s, label('slot', s)] as [string, string]), 'lunch');
  const menuBox = h('section', { class: 'card', 'data-testid': 'menu' });
  const ordersBox = h('section', { class: 'card' });
  const prodBox = h('section', { class: 'card' });
  const delivBox = h('section', { class: 'card' });
  const countBox = h('section', { class: 'card' });
  const cname = (id: number) => canteens.find((c) => c.id === id)?.name ?? `#${id}`;

  const load = async () => {
    const cid = Number(canteen.value);
    const menus = await get<Obj[]>(`/api/v1/meals/menus${qs({ canteen_id: cid || undefined, from: date.value, to: date.value })}`);
    const menu = menus.map((r) => r.menu).find((x) => x.slot === slot.value && x.canteen === cid);
    const options: Obj[] = menu?.options ?? [];
    const save = async (opts: Obj[]) => {
      try {
        if (opts.length) await put('/api/v1/meals/menus', { canteen: cid, date: date.value, slot: slot.value, options: opts });
        else await del(`/api/v1/meals/menus/${cid}/${date.value}/${slot.value}`);
        m.say(t('o_done'));
      } catch (e) {
        m.fail(e);
      }
      await load();
    };
    const code = h('input', { placeholder: t('ml_opt_code'), 'data-testid': 'opt-code', class: 'narrow' });
    const oname = h('input', { placeholder: t('ml_opt_name'), 'data-testid': 'opt-name' });
    const price = h('input', { placeholder: t('ml_opt_price'), 'data-testid': 'opt-price', class: 'narrow' });
    const dishes = h('input', { placeholder: t('ml_opt_dishes'), 'data-testid': 'opt-dishes' });
    const tags = ['low_salt', 'low_sugar', 'low_fat', 'soft', 'minced', 'halal', 'vegetarian'].map((x) => [x, h('input', { type: 'checkbox', value: x })] as const);
    clear(
      menuBox,
      h('h2', null, `${t('ml_menu')} · ${cname(cid)} · ${date.value} ${label('slot', slot.value)}`),
      options.length
        ? h('ul', { class: 'menu-options' }, options.map((o, i) => h('li', null, h('b', null, `${o.name_zh}（${o.code}）`), ` ${yuan(o.price)} · `, (o.dishes as Obj[]).map((d) => `${d.name_zh}${d.tags.length ? `[${(d.tags as string[]).map((x) => label('dish', x)).join('/')}]` : ''}`).join('、'), canEdit ? h('button', { class: 'small', onclick: () => void save(options.filter((_, j) => j !== i)) }, t('ml_remove')) : null)))
        : h('p', { class: 'muted' }, t('ml_no_menu')),
      canEdit
        ? h(
            'form',
            {
              class: 'filters',
              onsubmit: (e: Event) => {
                e.preventDefault();
                const yuanToFen = Math.round(Number(price.value) * 100);
                const names = dishes.value.split(/[、,，]/).map((s) => s.trim()).filter(Boolean);
                const picked = tags.filter(([, c]) => c.checked).map(([x]) => x);
                const opt = { code: code.value.trim(), name_zh: oname.value.trim(), price: yuanToFen, dishes: names.map((n, k) => ({ code: `${code.value.trim()}_d${k + 1}`, name_zh: n, tags: picked })) };
                void save([...options, opt]);
              },
            },
            h('b', null, t('ml_add_option')),
            code,
            oname,
            price,
            dishes,
            tags.map(([x, c]) => h('label', null, c, label('dish', x))),
            h('button', { type: 'submit', class: 'primary', 'data-testid': 'save-menu' }, t('ml_save_menu')),
          )
        : null,
    );
    const mo = await get<Page<Obj>>(`/api/v1/meals/orders${qs({ date: date.value, slot: slot.value, canteen_id: cid || undefined, per_page: 200 })}`).catch(() => null);
    clear(
      ordersBox,
      h('h2', null, t('ml_orders'), mo ? h('span', { class: 'tag' }, String(mo.total)) : null),
      mo && mo.items.length
        ? table(mo.items, [
            { head: '#', cell: (r) => r.id },
            { head: t('o_elder'), cell: (r) => `#${r.order.elder}` },
            { head: t('ml_option'), cell: (r) => r.order.option },
            { head: t('ml_fulfilment'), cell: (r) => label('ful', r.order.fulfilment) },
            { head: t('o_price'), cell: (r) => yuan(r.order.price) },
            { head: t('ml_elder_pays'), cell: (r) => yuan(r.elder_pays_fen) },
            { head: t('o_state'), cell: (r) => label('mealst', r.order.state) },
            {
              head: '',
              cell: (r) =>
                canEdit && r.order.state === 'placed'
                  ? h('span', null, ['served', 'delivered', 'missed'].map((a) => h('button', { class: 'small', onclick: async () => { try { await post(`/api/v1/meals/orders/${r.id}/${a}`); } catch (e) { m.fail(e); } await load(); } }, t(`ml_${a}` as Key))))
                  : null,
            },
          ], 'meal-orders')
        : h('p', { class: 'muted', 'data-testid': 'meal-orders' }, t('ml_none')),
    );
    if (!kitchen) return;
    const prod = await get<Obj>(`/api/v1/meals/production${qs({ date: date.value, slot: slot.value })}`);
    clear(
      prodBox,
      h('h2', null, t('ml_production'), h('small', null, ` ${t('ml_total_meals', { n: prod.total_meals })}`)),
      h('div', { 'data-testid': 'production' }, Object.entries(prod.canteens as Record<string, Obj>).map(([id, c]) => h('div', null, h('h3', null, `${cname(Number(id))} · ${t('ml_total_meals', { n: c.meals })}（${label('ful', 'dine_in')} ${c.dine_in} · ${label('ful', 'delivery')} ${c.delivery}）`), h('ul', null, Object.values(c.by_dish as Record<string, Obj>).map((d) => h('li', null, `${d.name_zh} ${t('ml_portions', { n: d.portions })}`, (d.tags as string[]).length ? ` [${(d.tags as string[]).map((x) => label('dish', x)).join('/')}]` : '')))))),
    );
    const rounds = await get<Obj[]>(`/api/v1/meals/deliveries${qs({ date: date.value, slot: slot.value })}`);
    clear(
      delivBox,
      h('h2', null, t('ml_deliveries')),
      h('div', { 'data-testid': 'deliveries' }, rounds.length ? rounds.map((r) => h('div', null, h('h3', null, `${t('ml_station', { id: r.station_id })} · ${t('ml_distance', { d: (r.distance_m / 1000).toFixed(1) })}`), h('ol', null, (r.stops as Obj[]).map((s) => h('li', null, `${s.name} · ${s.address} · ${s.phone ?? ''}`))))) : h('p', { class: 'muted' }, t('none'))),
    );
    const counts = await get<Obj>('/api/v1/meals/counts');
    const keys = ['ordered', 'served', 'delivered', 'missed', 'cancelled', 'free'];
    clear(
      countBox,
      h('h2', null, t('ml_counts')),
      table(
        [['', counts.total] as [string, Obj], ...Object.entries(counts.per_canteen as Record<string, Obj>)],
        [{ head: t('ml_canteen'), cell: ([id]) => (id ? cname(Number(id)) : t('st_total')) }, ...keys.map((k) => ({ head: t(`ml_${k}` as Key), cell: ([, c]: [string, Obj]) => c[k] }))],
        'meal-counts',
      ),
    );
  };
  for (const el of [canteen, date, slot]) el.addEventListener('change', () => void load());
  clear(root, m.el, h('div', { class: 'filters' }, t('ml_canteen'), canteen, t('ml_date'), date, t('ml_slot'), slot), h('div', { class: 'cards' }, menuBox, ordersBox), kitchen ? h('div', { class: 'cards' }, prodBox, delivBox, countBox) : null);
  await load();
}

// ---------------------------------------------------------------------------------------
// Statements

async function statements(root: HTMLElement): Promise<void> {
  const month = h('input', { type: 'month', value: isoDay(0).slice(0, 7), 'data-testid': 'st-month' });
  const monthly = h('section', { class: 'card', 'data-testid': 'monthly' });
  const pay = h('section', { class: 'card', 'data-testid': 'pay-statement' });
  const cgs = await get<Page<Obj>>(`/api/v1/accounts${qs({ role: 'caregiver', per_page: 200 })}`).then((p) => p.items).catch(() => [] as Obj[]);
  const cg = select('caregiver', [['', t('st_pick_caregiver')], ...cgs.map((c) => [String(c.id), c.display_name] as [string, string])], '');
  const totalsTable = (rows: [string, Obj][], testid: string) =>
    table(rows, [
      { head: '', cell: ([k]) => k },
      { head: t('st_orders'), cell: ([, v]) => v.orders },
      { head: t('st_amount'), cell: ([, v]) => yuan(v.total) },
      { head: t('st_by_source'), cell: ([, v]) => Object.entries(v.by_source as Record<string, number>).map(([s, f]) => `${label('fund', s)} ${yuan(f)}`).join('；') },
    ], testid);
  const load = async () => {
    const s = await get<Obj>(`/api/v1/statements/monthly${qs({ month: month.value })}`);
    clear(
      monthly,
      h('h2', null, `${t('st_monthly')} · ${month.value}`),
      s.total.orders === 0
        ? h('p', { class: 'muted' }, t('st_none'))
        : [
            h('h3', null, t('st_by_source')),
            table(Object.entries(s.total.by_source as Record<string, number>), [{ head: t('st_by_source'), cell: ([k]) => label('fund', k) }, { head: t('st_amount'), cell: ([, v]) => yuan(v) }], 'by-source'),
            h('p', null, `${t('st_total')}：${s.total.orders} · ${yuan(s.total.total)}`),
            h('h3', null, t('st_by_service')),
            totalsTable(Object.entries(s.per_service as Record<string, Obj>).map(([k, v]) => [label('svccat', k), v]), 'by-service'),
            h('h3', null, t('st_by_elder')),
            totalsTable(Object.entries(s.per_elder as Record<string, Obj>).map(([k, v]) => [t('st_elder_no', { id: k }), v]), 'by-elder'),
            h('h3', null, t('st_by_provider')),
            totalsTable(Object.entries(s.per_provider as Record<string, Obj>).map(([k, v]) => [t('st_provider_no', { id: k }), v]), 'by-provider'),
          ],
    );
    await loadPay();
  };
  const loadPay = async () => {
    if (!cg.value) {
      clear(pay, h('h2', null, t('st_pay')), cg);
      return;
    }
    const p = await get<Obj>(`/api/v1/statements/pay${qs({ caregiver_id: cg.value, month: month.value })}`);
    clear(
      pay,
      h('h2', null, t('st_pay')),
      cg,
      h('p', null, `${t('st_orders')} ${p.orders} · ${t('st_paid_min')} ${p.paid_min} · ${t('st_base')} ${yuan(p.base)} · ${t('st_time')} ${yuan(p.time)} · ${t('st_bonus')} ${yuan(p.bonus)} · ${t('st_penalty')} ${yuan(p.penalties)} · ${t('st_payable')} `, h('b', null, yuan(p.payable))),
      table(p.lines as Obj[], [
        { head: '#', cell: (l) => l.order },
        { head: t('ml_date'), cell: (l) => l.date },
        { head: t('st_paid_min'), cell: (l) => l.paid_min },
        { head: t('st_base'), cell: (l) => yuan(l.base) },
        { head: t('st_time'), cell: (l) => yuan(l.time) },
        { head: t('st_bonus'), cell: (l) => yuan(l.bonus) },
        { head: t('st_penalty'), cell: (l) => yuan(l.penalty) },
        { head: t('st_payable'), cell: (l) => yuan(l.total) },
      ], 'pay-lines'),
    );
  };
  month.addEventListener('change', () => void load());
  cg.addEventListener('change', () => void loadPay());
  clear(root, h('div', { class: 'filters' }, t('st_month'), month), h('div', { class: 'cards' }, monthly, pay));
  await load();
}
