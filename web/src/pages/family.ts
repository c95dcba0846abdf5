// The family view (phone-sized first): my elder's status and alarms, live; their service
// orders and the payments (each settled order's split: what the elder paid, what subsidies
// and the service card paid). The API scopes everything to the elders linked to this account.

import { get, qs, Page } from '../api';
import { h, clear } from '../dom';
import { t, label, fmtTime } from '../i18n';
import { subscribe } from '../live';
import type { Cleanup } from '../main';
import { itemNames, yuan, stateTag, when, stars } from './svc';

export async function familyPage(root: HTMLElement): Promise<Cleanup> {
  const body = h('div', { class: 'family' });
  clear(root, h('h1', null, t('fam_title')), body);
  const load = async () => {
    const elders = await get<Page<Record<string, any>>>(`/api/v1/elders${qs({ per_page: 20 })}`);
    if (elders.items.length === 0) {
      clear(body, h('div', { class: 'notice' }, t('fam_no_elder')));
      return;
    }
    const name = await itemNames();
    const cards: Node[] = [];
    for (const e of elders.items) {
      const alarms = await get<Page<Record<string, any>>>(`/api/v1/alarms${qs({ elder_id: e.id, per_page: 20 })}`);
      const open = alarms.items.filter((a) => a.alarm.stage !== 'closed');
      const orders = await get<Page<Record<string, any>>>(`/api/v1/orders${qs({ elder_id: e.id, per_page: 30 })}`);
      const paid = orders.items.filter((o) => o.settlement);
      cards.push(
        h(
          'section',
          { class: 'card fam-card', 'data-testid': `family-elder-${e.id}` },
          h('h2', { 'data-testid': 'family-elder-name' }, e.name, h('small', null, ` ${label('sex', e.sex)} · ${e.age}`)),
          h('div', { class: `fam-status ${open.length ? 'alarm' : 'ok'}`, 'data-testid': 'family-status' }, open.length ? t('fam_alarm_open') : t('fam_safe')),
          h('div', { class: 'kv' }, h('span', { class: 'k' }, t('f_address')), h('span', { class: 'v' }, e.address)),
          h('div', { class: 'kv' }, h('span', { class: 'k' }, t('f_phone')), h('span', { class: 'v' }, e.phone ?? t('dash'))),
          h('h3', null, t('fam_recent_alarms')),
          alarms.items.length
            ? h('ul', { class: 'fam-alarms', 'data-testid': 'family-alarms' }, alarms.items.map((a) => h('li', { class: a.alarm.stage === 'closed' ? 'closed' : 'open' }, h('b', null, label('kind', a.alarm.kind)), ` · ${label('stage', a.alarm.stage)}`, h('div', { class: 'muted' }, fmtTime(a.alarm.raised_at)))))
            : h('p', { class: 'muted' }, t('fam_no_alarms')),
          h('h3', null, t('fam_orders')),
          orders.items.length
            ? h('ul', { class: 'fam-alarms', 'data-testid': 'family-orders' }, orders.items.map((o) => h('li', { 'data-testid': `family-order-${o.id}`, 'data-elder': o.elder.id }, h('b', null, name(o.item)), ' ', stateTag(o.state), ` ${yuan(o.price_fen)}`, h('div', { class: 'muted' }, `#${o.id} · ${when(o)}`, o.rating ? ` · ${stars(o.rating.stars)}` : ''))))
            : h('p', { class: 'muted', 'data-testid': 'family-orders' }, t('fam_no_orders')),
          h('h3', null, t('fam_payments')),
          paid.length
            ? h('ul', { class: 'fam-alarms', 'data-testid': 'family-payments' }, paid.map((o) => h('li', null, h('b', null, `${name(o.item)} ${yuan(o.settlement.price)}`), h('div', { class: 'muted' }, (o.settlement.lines as Record<string, any>[]).map((l) => `${label('fund', l.source)} ${yuan(l.amount)}`).join('；')))))
            : h('p', { class: 'muted' }, t('fam_no_payments')),
        ),
      );
    }
    clear(body, cards);
  };
  await load();
  let due: ReturnType<typeof setTimeout> | null = null;
  const feed = subscribe(
    (e) => {
      if (e.topic !== 'alarm') return;
      if (due) clearTimeout(due);
      due = setTimeout(() => void load(), 300);
    },
    () => undefined,
    () => void load(),
  );
  return () => feed.close();
}
