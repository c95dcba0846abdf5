// Screens that wait for the home-care services and meals API (issue 5): the services and
// meals board, and the caregiver's order grabbing. They say so plainly and show no made-up
// data. The caregiver view already carries what the platform has today: the emergencies a
// caregiver is dispatched to (accept, decline, on site) and the elders they serve.

import { get, post, qs, Page, ApiError } from '../api';
import { h, clear } from '../dom';
import { t, label, fmtTime } from '../i18n';
import { subscribe } from '../live';
import type { Cleanup } from '../main';

function pendingBox(title: string, items: string): HTMLElement {
  return h('section', { class: 'card pending-box', 'data-testid': 'pending' }, h('h2', null, title, ' ', h('span', { class: 'tag pending' }, t('pending_issue5'))), h('p', null, items), h('p', { class: 'muted' }, t('pending_issue5_long')));
}

export function servicesPage(root: HTMLElement): void {
  clear(root, h('h1', null, t('services_title')), pendingBox(t('services_title'), t('services_items')));
}

export async function caregiverPage(root: HTMLElement): Promise<Cleanup> {
  const dispatches = h('div', { 'data-testid': 'dispatches' });
  const mine = h('div');
  const msg = h('div', { class: 'cc-msg', role: 'status' });
  clear(root, h('div', { class: 'phone' }, h('h1', null, t('cg_title')), msg, h('section', { class: 'card' }, h('h2', null, t('cg_dispatches')), dispatches), h('section', { class: 'card' }, h('h2', null, t('cg_my_elders')), mine), pendingBox(t('nav_services'), t('cg_grab'))));
  const act = async (id: number, step: string) => {
    try {
      await post(`/api/v1/alarms/${id}/${step}`);
      msg.textContent = `#${id} ${t('c_done')}`;
      await load();
    } catch (e) {
      msg.textContent = e instanceof ApiError ? e.text() : String(e);
    }
  };
  const load = async () => {
    const p = await get<Page<Record<string, any>>>(`/api/v1/alarms${qs({ open: true, per_page: 50 })}`);
    clear(
      dispatches,
      p.items.length
        ? h('ul', { class: 'fam-alarms' }, p.items.map(({ alarm: a, elder_name }) => h('li', { class: 'open' }, h('b', null, label('kind', a.kind)), ` · ${elder_name ?? ''} · ${label('stage', a.stage)}`, h('div', { class: 'muted' }, fmtTime(a.raised_at)), h('div', { class: 'btns' }, h('button', { class: 'primary', onclick: () => void act(a.id, 'accept') }, t('cg_accept')), h('button', { onclick: () => void act(a.id, 'decline') }, t('cg_decline')), h('button', { onclick: () => void act(a.id, 'on-site') }, t('cg_on_site'))))))
        : h('p', { class: 'muted' }, t('cg_none')),
    );
    const list = await get<Page<Record<string, any>>>(`/api/v1/elders${qs({ per_page: 50 })}`);
    clear(mine, list.items.length ? h('ul', null, list.items.map((e) => h('li', null, `${e.name} · ${e.address}`))) : h('p', { class: 'muted' }, t('dash')));
  };
  await load();
  const feed = subscribe((e) => { if (e.topic === 'alarm') void load(); }, () => undefined, () => void load());
  return () => feed.close();
}
