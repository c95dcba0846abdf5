// Ledger import (台账导入) with the row-error report, the template, and export.

import { upload, download, qs, me, ApiError } from '../api';
import { h, clear } from '../dom';
import { t, currentLang } from '../i18n';
import { table } from './common';

interface RowError {
  row: number;
  column: string;
  value: string;
  code: string;
  message: string;
  message_en: string;
}
interface Report {
  total_rows: number;
  valid_rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  dry_run: boolean;
  errors: RowError[];
  warnings: string[];
}

export function ledgerPage(root: HTMLElement): void {
  const role = me()?.role;
  const canImport = role === 'admin' || role === 'station_staff';
  const file = h('input', { type: 'file', name: 'file', accept: '.xlsx,.csv', 'data-testid': 'ledger-file' });
  const dry = h('input', { type: 'checkbox', name: 'dry_run', checked: true, 'data-testid': 'dry-run' });
  const out = h('div', { class: 'report', 'data-testid': 'report' });
  const form = h(
    'form',
    { class: 'card upload' },
    h('h2', null, t('r_import')),
    h('p', { class: 'muted' }, t('r_import_hint')),
    h('label', null, t('r_choose_file'), ' ', file),
    h('label', { class: 'check' }, dry, ' ', t('r_dry_run')),
    h('div', null, h('button', { type: 'submit', class: 'primary', 'data-testid': 'upload' }, t('r_upload')), ' ', h('button', { type: 'button', onclick: () => void download('/api/v1/ledger/template', 'ledger-template.xlsx') }, t('r_template'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    clear(out, t('loading'));
    try {
      const r = await upload<Report>(`/api/v1/ledger/import${qs({ filename: f.name, dry_run: dry.checked })}`, f);
      clear(
        out,
        h('h2', null, t('r_report'), r.dry_run ? h('span', { class: 'tag' }, t('r_dry_run')) : null),
        h('p', { 'data-testid': 'report-summary' }, t('r_report_summary', { total: r.total_rows, valid: r.valid_rows, inserted: r.inserted, updated: r.updated, unchanged: r.unchanged })),
        r.warnings.length ? h('div', { class: 'notice' }, h('b', null, t('r_warnings'), '：'), r.warnings.join('；')) : null,
        r.errors.length
          ? table(r.errors, [
              { head: t('r_row'), cell: (x) => x.row },
              { head: t('r_column'), cell: (x) => x.column },
              { head: t('r_value'), cell: (x) => x.value },
              { head: t('r_problem'), cell: (x) => (currentLang() === 'zh' ? x.message : x.message_en) },
            ], 'row-errors')
          : h('p', null, t('r_no_errors')),
      );
    } catch (err) {
      clear(out, h('div', { class: 'notice error' }, err instanceof ApiError ? err.text() : String(err)));
    }
  });
  clear(
    root,
    h('h1', null, t('nav_ledger')),
    canImport ? form : null,
    canImport ? out : null,
    h('div', { class: 'card' }, h('h2', null, t('r_export')), h('p', { class: 'muted' }, t('r_export_hint')), h('button', { 'data-testid': 'export', onclick: () => void download('/api/v1/ledger/export', 'elders.xlsx') }, t('r_export'))),
  );
}
