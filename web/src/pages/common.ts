// Pieces shared by the registry pages: a paged table and the pager.

import { h, clear } from '../dom';
import { t } from '../i18n';

export interface Column<T> {
  head: string;
  cell: (row: T) => Node | string | number | null | undefined;
}

export function table<T>(rows: T[], cols: Column<T>[], testid: string, rowAttrs?: (row: T) => Record<string, unknown>): HTMLElement {
  if (rows.length === 0) return h('div', { class: 'notice', 'data-testid': testid }, t('r_no_items'));
  return h(
    'table',
    { class: 'grid', 'data-testid': testid },
    h('thead', null, h('tr', null, cols.map((c) => h('th', null, c.head)))),
    h('tbody', null, rows.map((r) => h('tr', rowAttrs?.(r) ?? null, cols.map((c) => h('td', null, c.cell(r) ?? t('dash')))))),
  );
}

export function pager(host: HTMLElement, page: number, perPage: number, total: number, go: (page: number) => void): void {
  const pages = Math.max(1, Math.ceil(total / perPage));
  clear(
    host,
    h('button', { disabled: page <= 1, onclick: () => go(page - 1), 'data-testid': 'prev' }, t('prev_page')),
    h('span', { class: 'muted' }, t('page_of', { page, pages, total })),
    h('button', { disabled: page >= pages, onclick: () => go(page + 1), 'data-testid': 'next' }, t('next_page')),
  );
}
