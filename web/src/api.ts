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

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    public zh: string,
    public en: string,
  ) {
    super(en || zh || code);
  }
  /** The message in the console's language. */
  text(): string {
    return currentLang() === 'zh' ? this.zh || this.en : this.en || this.zh;
  }
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

async function request(method: string, path: string, body?: BodyInit, contentType?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  const tk = token();
  if (tk) headers.Authorization = `Bearer ${tk}`;
  if (contentType) headers['Content-Type'] = contentType;
  const r = await fetch(path, { method, headers, body });
  if (!r.ok) {
    let code = 'http_' + r.status;
    let zh = '';
    let en = r.statusText;
    try {
      const e = await r.json();
      code = e.code ?? code;
      zh = e.message ?? '';
      en = e.message_en ?? en;
    } catch {
      /* not our JSON */
    }
    if (r.status === 401 && path !== '/api/v1/auth/login') {
      signedOut();
      window.dispatchEvent(new CustomEvent('zhulao:signed-out'));
    }
    throw new ApiError(r.status, code, zh, en);
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

export async function put<T>(path: string, body: unknown): Promise<T> {
  return (await request('PUT', path, JSON.stringify(body), 'application/json')).json() as Promise<T>;
}

export async function del(path: string): Promise<void> {
  await request('DELETE', path);
}

/** Posts a multipart form (the check-out with its photos); the browser sets the boundary. */
export async function postForm<T>(path: string, form: FormData): Promise<T> {
  return (await request('POST', path, form)).json() as Promise<T>;
}
