// The zhulao HTTP API: a bearer token kept in sessionStorage, JSON in and out, errors in the
// platform's one shape ({code, message, message_en}).

import { currentLang } from './i18n';

export interface Account {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  region: string | null;
  facility_id: number | null;
}

export type Role = 'admin' | 'supervisor' | 'operator' | 'caregiver' | 'care_manager' | 'station_staff' | 'family';

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}

/** One field's error in a 422 answer (`errors` lists them when there are several). */
export interface FieldErr {
  field: string;
  code: string;
  zh: string;
  en: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    public zh: string,
    public en: string,
    /** The offending input field, when there is one. */
    public field: string | null = null,
    /** Every field error, when the input had several. */
    public errors: FieldErr[] = [],
  ) {
    super(en || zh || code);
  }
  /** The message in the console's language. */
  text(): string {
    return currentLang() === 'zh' ? this.zh || this.en : this.en || this.zh;
  }
  /** Every field error (the one of `field` when there is a single one), for forms. */
  fieldErrors(): FieldErr[] {
    if (this.errors.length) return this.errors;
    return this.field ? [{ field: this.field, code: this.code, zh: this.zh, en: this.en }] : [];
  }
}

/** A field error's message in the console's language. */
export function fieldText(e: FieldErr): string {
  return currentLang() === 'zh' ? e.zh || e.en : e.en || e.zh;
}

const TOKEN = 'zhulao.token';
const ACCOUNT = 'zhulao.account';

export function token(): string | null {
  return sessionStorage.getItem(TOKEN);
}

export function me(): Account | null {
  const a = sessionStorage.getItem(ACCOUNT);
  return a ? (JSON.parse(a) as Account) : null;
}

export function signedOut(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(ACCOUNT);
}

async function request(method: string, path: string, body?: BodyInit, contentType?: string, extra?: Record<string, string>): Promise<Response> {
  const headers: Record<string, string> = { ...extra };
  const tk = token();
  if (tk) headers.Authorization = `Bearer ${tk}`;
  if (contentType) headers['Content-Type'] = contentType;
  const r = await fetch(path, { method, headers, body });
  if (!r.ok) {
    let code = 'http_' + r.status;
    let zh = '';
    let en = r.statusText;
    let field: string | null = null;
    let errors: FieldErr[] = [];
    try {
      const e = await r.json();
      code = e.code ?? code;
      zh = e.message ?? '';
      en = e.message_en ?? en;
      field = e.field ?? null;
      errors = Array.isArray(e.errors) ? e.errors.map((x: Record<string, string>) => ({ field: x.field, code: x.code, zh: x.message ?? '', en: x.message_en ?? '' })) : [];
    } catch {
      /* not our JSON */
    }
    if (r.status === 401 && path !== '/api/v1/auth/login') {
      signedOut();
      window.dispatchEvent(new CustomEvent('zhulao:signed-out'));
    }
    throw new ApiError(r.status, code, zh, en, field, errors);
  }
  return r;
}

export async function get<T>(path: string): Promise<T> {
  return (await request('GET', path)).json() as Promise<T>;
}

export async function post<T>(path: string, body?: unknown): Promise<T | null> {
  const r = await request('POST', path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json');
  return r.status === 204 ? null : ((await r.json()) as T);
}

/** Uploads raw bytes (a ledger file) and returns the JSON answer. */
export async function upload<T>(path: string, file: Blob): Promise<T> {
  return (await request('POST', path, file, 'application/octet-stream')).json() as Promise<T>;
}

/** Downloads a file through the API (with the token) and hands it to the browser. */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request('GET', path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function login(username: string, password: string): Promise<Account> {
  const r = await post<{ token: string; account: Account }>('/api/v1/auth/login', { username, password });
  if (!r) throw new ApiError(500, 'internal', '', 'empty answer');
  sessionStorage.setItem(TOKEN, r.token);
  sessionStorage.setItem(ACCOUNT, JSON.stringify(r.account));
  return r.account;
}

export async function logout(): Promise<void> {
  try {
    await post('/api/v1/auth/logout');
  } finally {
    signedOut();
  }
}

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** `headers` are extra request headers (e.g. `If-Match` with the record's version). */
export async function put<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T> {
  return (await request('PUT', path, JSON.stringify(body), 'application/json', headers)).json() as Promise<T>;
}

export async function del(path: string): Promise<void> {
  await request('DELETE', path);
}

/** Posts a multipart form (the check-out with its photos); the browser sets the boundary. */
export async function postForm<T>(path: string, form: FormData): Promise<T> {
  return (await request('POST', path, form)).json() as Promise<T>;
}
