// Test harness: starts its own `zhulao demo` (fresh SQLite database in a temporary
// directory, HTTP on port 0, the embedded MQTT broker on free ports) and headless Chromium
// driven by playwright-core. A browser that cannot start is an error, never a skip.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = resolve(here, '..', 'artifacts');
export const PASSWORD = 'zhulao-demo-2026';

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function binary() {
  if (process.env.ZHULAO_BIN) return process.env.ZHULAO_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(here, '..', '..', 'target');
  return join(target, 'debug', 'zhulao');
}

/**
 * Starts `zhulao demo` and resolves when it serves: { base, stop(), log }.
 * `extra` are more arguments (e.g. ['--elders', '65000']); `timeoutMs` covers loading.
 */
export async function startZhulao({ elders = 2000, extra = [], timeoutMs = 300_000, logName = 'zhulao.log', database = null } = {}) {
  await mkdir(ARTIFACTS, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'zhulao-e2e-'));
  const [m1, m2] = [await freePort(), await freePort()];
  // A given database is reused (a demo district loaded once); otherwise a fresh one per run.
  const args = [
    'demo',
    ...(database ? [] : ['--fresh']),
    '--database-url', `sqlite://${database ?? join(dir, 'demo.db')}`,
    '--listen', '127.0.0.1:0',
    '--mqtt-listen', `127.0.0.1:${m1}`,
    '--mqtt-listen-v5', `127.0.0.1:${m2}`,
    '--elders', String(elders),
    ...extra,
  ];
  const log = createWriteStream(join(ARTIFACTS, logName));
  const child = spawn(binary(), args, { cwd: dir, env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info,sqlx=warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log, { end: false });
  const base = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`zhulao did not start within ${timeoutMs} ms (see ${logName})`)), timeoutMs);
    let buf = '';
    child.stdout.on('data', (d) => {
      log.write(d);
      buf += d.toString();
      const m = /serving on (http:\/\/[0-9.]+:\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`zhulao exited with ${code} before serving (see ${logName})`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
  });
  return {
    base,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 10_000);
          child.on('exit', () => { clearTimeout(t); r(); });
        });
      }
      log.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium (Debian's, at ZHULAO_CHROMIUM or /usr/bin/chromium). */
/**
 * Starts `zhulao demo` (with `options`, as startZhulao) and the browser at once: the browser is
 * checked while the district loads. Either failing is an error; whatever did start is stopped.
 */
export async function startWithBrowser(options = {}) {
  const [s, b] = await Promise.allSettled([startZhulao(options), launchBrowser()]);
  if (s.status === 'rejected' || b.status === 'rejected') {
    if (b.status === 'fulfilled') await b.value.close();
    if (s.status === 'fulfilled') await s.value.stop();
    throw b.status === 'rejected' ? b.reason : s.reason;
  }
  return { server: s.value, browser: b.value };
}

export async function launchBrowser() {
  const executablePath = process.env.ZHULAO_CHROMIUM ?? '/usr/bin/chromium';
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The call centre's sound cue plays without a click first.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * A new page of `size` signed in as `username`; resolves when the role's home page shows.
 * `options` go to the browser context (e.g. `{ permissions: ['geolocation'], geolocation }`).
 */
export async function signIn(browser, base, username, size = { width: 1920, height: 1080 }, options = {}) {
  const context = await browser.newContext({ viewport: size, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error: ${e.message}`));
  await page.goto(`${base}/login`);
  await page.fill('[data-testid=username]', username);
  await page.fill('[data-testid=password]', PASSWORD);
  await page.click('[data-testid=login]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 20_000 });
  return page;
}

/** Calls the API from inside the page, with its session. */
export function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Authorization: `Bearer ${sessionStorage.getItem('zhulao.token')}` } });
    let body = null;
    try {
      body = await r.json();
    } catch {
      /* not JSON */
    }
    return { status: r.status, body };
  }, path);
}

/** Calls the API from inside the page with any method and a JSON body. */
export function call(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const headers = { Authorization: `Bearer ${sessionStorage.getItem('zhulao.token')}` };
    if (b !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(p, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) });
    let json = null;
    try {
      json = await r.json();
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: json };
  }, [method, path, body]);
}

export async function shot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
