// Pieces shared by the services screens (issue 5's API): the catalogue's names, money in
// fen, order states, the phone's position, a message line.

import { get, ApiError } from '../api';
import { h } from '../dom';
import { t, label, currentLang, fmtTime } from '../i18n';

export type Obj = Record<string, any>;

interface Item {
  code: string;
  name_zh: string;
  name_en: string;
  category: string;
  price_fen: number;
  duration_min: number;
  active: boolean;
}

let catalogue: Promise<Item[]> | null = null;

/** The catalogue (cached for the session's page life). */
export function items(): Promise<Item[]> {
  catalogue ??= get<Item[]>('/api/v1/catalogue').catch((e) => {
    catalogue = null;
    throw e;
  });
  return catalogue;
}

/** An item's name in the console's language (the code if unknown). */
export async function itemNames(): Promise<(code: string) => string> {
  const list = await items().catch(() => [] as Item[]);
  const m = new Map(list.map((i) => [i.code, currentLang() === 'zh' ? i.name_zh : i.name_en]));
  return (code) => m.get(code) ?? code;
}

export function yuan(fen: number | null | undefined): string {
  if (fen == null) return t('dash');
  const neg = fen < 0;
  const a = Math.abs(fen);
  return `${neg ? '-' : ''}¥${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

export const STATES = ['created', 'published', 'taken', 'on_the_way', 'checked_in', 'completed', 'rated', 'settled', 'cancelled', 'no_show', 'expired'];

export function stateTag(state: string): HTMLElement {
  return h('span', { class: `ostate s-${state}`, 'data-state': state }, label('ost', state));
}

export function when(o: Obj): string {
  return o.scheduled_at ? fmtTime(o.scheduled_at) : t('asap');
}

export function stars(n: number): string {
  return '★'.repeat(n) + '☆'.repeat(Math.max(0, 5 - n));
}

export function km(m: number | null | undefined): string {
  if (m == null) return t('dash');
  return m < 1000 ? `${m} m` : t('o_km', { d: (m / 1000).toFixed(1) });
}

/** The phone's position (WGS-84) through the browser's geolocation. */
export function here(): Promise<{ lat: number; lon: number }> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new Error('geolocation unavailable'));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
      (e) => reject(new Error(e.message || `geolocation error ${e.code}`)),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 0 },
    );
  });
}

/** A status line: `say(msg)` in green, `fail(error)` in red (API errors in the console's language). */
export function messenger(): { el: HTMLElement; say: (s: string) => void; fail: (e: unknown) => void } {
  const el = h('div', { class: 'cc-msg', role: 'status', 'data-testid': 'msg' });
  return {
    el,
    say: (s) => {
      el.className = 'cc-msg';
      el.textContent = s;
    },
    fail: (e) => {
      el.className = 'cc-msg error';
      el.textContent = e instanceof ApiError ? e.text() : String((e as Error)?.message ?? e);
    },
  };
}

/** The settlement lines of an order (who pays what). */
export function splitLines(split: Obj | null | undefined): Node {
  if (!split) return h('span', { class: 'muted' }, t('dash'));
  return h('ul', { class: 'split' }, (split.lines as Obj[]).map((l) => h('li', null, `${label('fund', l.source)} ${yuan(l.amount)}`)));
}
