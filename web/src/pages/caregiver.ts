// The caregiver's phone view (390×844 first): go on duty with the phone's position, the
// orders nearby to grab (the elder's address and phone masked until the order is theirs, as
// the API enforces), my orders with set off / check-in / check-out by the phone's location,
// the ratings received and this month's pay; and the emergencies the call centre sends.

import { get, post, postForm, qs, Page } from '../api';
import { h, clear } from '../dom';
import { t, label, fmtTime, fmtClock } from '../i18n';
import { subscribe } from '../live';
import type { Cleanup } from '../main';
import { itemNames, yuan, stateTag, when, stars, km, here, messenger, Obj } from './svc';

const DUTY = 'zhulao.onDuty';

export async function caregiverPage(root: HTMLElement): Promise<Cleanup> {
  const name = await itemNames();
  const m = messenger();
  const duty = h('div', { class: 'cg-duty', 'data-testid': 'duty' });
  const nearby = h('div', { 'data-testid': 'nearby' });
  const mine = h('div', { 'data-testid': 'my-orders' });
  const ratings = h('div', { 'data-testid': 'ratings' });
  const pay = h('p', { class: 'muted', 'data-testid': 'pay' });
  const dispatches = h('div', { 'data-testid': 'dispatches' });
  clear(
    root,
    h(
      'div',
      { class: 'phone' },
      h('h1', null, t('cg_title')),
      m.el,
      h('section', { class: 'card' }, h('h2', null, t('cg_duty')), duty),
      h('section', { class: 'card' }, h('h2', null, t('cg_mine')), mine),
      h('section', { class: 'card' }, h('h2', null, t('cg_nearby')), nearby),
      h('section', { class: 'card' }, h('h2', null, t('cg_dispatches_h')), dispatches),
      h('section', { class: 'card' }, h('h2', null, t('cg_ratings')), pay, ratings),
    ),
  );
  let onDuty = localStorage.getItem(DUTY) !== 'false';
  let posNote = '';

  const report = async () => {
    try {
      const p = await here();
      await post('/api/v1/me/position', { lat: p.lat, lon: p.lon, on_duty: onDuty });
      posNote = t('cg_pos_ok', { t: fmtClock(Date.now()) });
    } catch (e) {
      posNote = t('cg_pos_fail', { e: String((e as Error).message ?? e) });
    }
    drawDuty();
  };
  const drawDuty = () =>
    clear(
      duty,
      h('span', { class: `fam-status ${onDuty ? 'ok' : 'alarm'}`, 'data-testid': 'duty-state' }, onDuty ? t('o_on_duty') : t('o_off_duty')),
      ' ',
      h(
        'button',
        {
          'data-testid': 'duty-toggle',
          onclick: async () => {
            onDuty = !onDuty;
            localStorage.setItem(DUTY, String(onDuty));
            await report();
            await load();
          },
        },
        onDuty ? t('cg_go_off') : t('cg_go_on'),
      ),
      h('div', { class: 'muted', 'data-testid': 'position' }, posNote),
    );

  const step = async (o: Obj, action: string, withPosition: boolean, extra: Obj = {}) => {
    try {
      let body: Obj = { ...extra };
      if (withPosition) {
        const p = await here();
        body = { ...body, lat: p.lat, lon: p.lon };
      }
      await post(`/api/v1/orders/${o.id}/${action}`, body);
      m.say(`#${o.id} ${t('o_done')}`);
    } catch (e) {
      m.fail(e);
    }
    await load();
  };

  const checkOut = async (o: Obj, notes: HTMLInputElement, files: HTMLInputElement) => {
    try {
      const p = await here();
      if (files.files && files.files.length) {
        const f = new FormData();
        f.set('lat', String(p.lat));
        f.set('lon', String(p.lon));
        f.set('notes', notes.value);
        for (const file of files.files) f.append('photos', file);
        await postForm(`/api/v1/orders/${o.id}/check-out`, f);
      } else {
        await post(`/api/v1/orders/${o.id}/check-out`, { lat: p.lat, lon: p.lon, notes: notes.value });
      }
      m.say(`#${o.id} ${t('o_done')}`);
    } catch (e) {
      m.fail(e);
    }
    await load();
  };

  const orderCard = (o: Obj, extra: Node[] = [], distance?: number) =>
    h(
      'li',
      { class: 'cg-order', 'data-testid': `order-${o.id}`, 'data-state': o.state },
      h('div', { class: 'l1' }, h('b', null, name(o.item)), ' ', stateTag(o.state), h('span', { class: 'price' }, yuan(o.price_fen))),
      h('div', null, `#${o.id} · ${when(o)} · ${o.duration_min} min`, distance != null ? ` · ${t('cg_distance', { d: km(distance) })}` : ''),
      h('div', null, o.elder.name, ' · ', h('span', { 'data-testid': 'elder-address' }, o.elder.address), o.elder.masked.includes('address') ? h('span', { class: 'tag' }, t('o_masked')) : null),
      h(
        'div',
        null,
        h('span', { 'data-testid': 'elder-phone' }, o.elder.phone ?? t('dash')),
        !o.elder.masked.includes('phone') && o.elder.phone ? h('a', { href: `tel:${o.elder.phone}`, class: 'tag' }, t('cg_call')) : null,
      ),
      o.note ? h('div', { class: 'muted' }, o.note) : null,
      extra.length ? h('div', { class: 'btns' }, extra) : null,
    );

  const load = async () => {
    // Nearby: what the API offers me now.
    const offered = onDuty ? await get<Obj[]>('/api/v1/orders/nearby').catch((e) => (m.fail(e), [] as Obj[])) : [];
    clear(
      nearby,
      offered.length
        ? h('ul', { class: 'cg-list' }, offered.map((n) => orderCard(n.order, [h('button', { class: 'primary', 'data-testid': `grab-${n.order.id}`, onclick: async () => { try { await post(`/api/v1/orders/${n.order.id}/grab`); m.say(t('cg_grabbed', { id: n.order.id })); } catch (e) { m.fail(e); } await load(); } }, t('cg_grab_btn'))], n.distance_m)))
        : h('p', { class: 'muted' }, t('cg_nearby_none')),
    );
    // Mine: in hand, and those waiting for the elder's confirmation.
    const held = await get<Page<Obj>>(`/api/v1/orders${qs({ state: 'taken,on_the_way,checked_in,completed', per_page: 50 })}`);
    clear(
      mine,
      held.items.length
        ? h(
            'ul',
            { class: 'cg-list' },
            held.items.map((o) => {
              const btns: Node[] = [];
              if (o.state === 'taken') btns.push(h('button', { class: 'primary', 'data-testid': `start-trip-${o.id}`, onclick: () => void step(o, 'start-trip', false) }, t('cg_start_trip')));
              if (o.state === 'on_the_way') btns.push(h('button', { class: 'primary', 'data-testid': `check-in-${o.id}`, onclick: () => void step(o, 'check-in', true) }, t('cg_check_in')));
              if (o.state === 'checked_in') {
                const notes = h('input', { placeholder: t('cg_notes'), 'data-testid': `notes-${o.id}` });
                const files = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', multiple: true, capture: 'environment' });
                btns.push(notes, files, h('button', { class: 'primary', 'data-testid': `check-out-${o.id}`, onclick: () => void checkOut(o, notes, files) }, t('cg_check_out')));
              }
              if (o.checked_in_at) btns.push(h('span', { class: 'muted' }, `${t('ev_on_site')} ${fmtTime(o.checked_in_at)}`));
              return orderCard(o, btns);
            }),
          )
        : h('p', { class: 'muted' }, t('cg_mine_none')),
    );
    // Ratings received, and this month's pay.
    const rated = await get<Page<Obj>>(`/api/v1/orders${qs({ state: 'rated,settled', per_page: 50 })}`);
    const withRating = rated.items.filter((o) => o.rating);
    clear(
      ratings,
      withRating.length
        ? h('ul', { class: 'fam-alarms' }, withRating.map((o) => h('li', { 'data-testid': `rating-${o.id}` }, h('span', { class: 'stars' }, stars(o.rating.stars)), ` ${name(o.item)} · ${o.elder.name}`, h('div', { class: 'muted' }, (o.rating.tags as string[]).map((x) => label('rtag', x)).join('、'), o.rating.text ? ` “${o.rating.text}”` : ''))))
        : h('p', { class: 'muted' }, t('cg_ratings_none')),
    );
    const p = await get<Obj>('/api/v1/statements/pay').catch(() => null);
    pay.textContent = p ? t('cg_pay', { n: p.orders, v: yuan(p.payable), b: yuan(p.bonus) }) : '';
    // Emergencies sent to me by the call centre.
    const alarms = await get<Page<Obj>>(`/api/v1/alarms${qs({ open: true, per_page: 50 })}`);
    clear(
      dispatches,
      alarms.items.length
        ? h('ul', { class: 'fam-alarms' }, alarms.items.map(({ alarm: a, elder_name }) => h('li', { class: 'open' }, h('b', null, label('kind', a.kind)), ` · ${elder_name ?? ''} · ${label('stage', a.stage)}`, h('div', { class: 'muted' }, fmtTime(a.raised_at)), h('div', { class: 'btns' }, h('button', { class: 'primary', onclick: () => void act(a.id, 'accept') }, t('cg_accept')), h('button', { onclick: () => void act(a.id, 'decline') }, t('cg_decline')), h('button', { onclick: () => void act(a.id, 'on-site') }, t('cg_on_site'))))))
        : h('p', { class: 'muted' }, t('cg_none')),
    );
  };
  const act = async (id: number, s: string) => {
    try {
      await post(`/api/v1/alarms/${id}/${s}`);
      m.say(`#${id} ${t('c_done')}`);
    } catch (e) {
      m.fail(e);
    }
    await load();
  };

  drawDuty();
  await report();
  await load();
  // Orders have no live feed: the position is reported and the lists refreshed every 15 s.
  const timer = setInterval(() => void report().then(load), 15_000);
  const feed = subscribe((e) => { if (e.topic === 'alarm') void load(); }, () => undefined, () => void load());
  return () => {
    clearInterval(timer);
    feed.close();
  };
}
