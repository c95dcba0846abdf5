// Bench (prints figures, asserts nothing): the big screen with 20,000 live wearers.
//
// Starts `zhulao demo` with a district big enough for 20,000 wearers (--elders 65000 gives
// about 20,400 pendants and watches), opens the big screen as the supervisor at 1920×1080 in
// headless Chromium, and measures:
//   - first render: from the page starting to the map's first finished frame (the wearer
//     snapshot, facilities and figures fetched, 20,000 dots drawn), and the snapshot alone;
//   - per-update frame time: live device changes (online/offline/position) fed through the
//     page's live-event path at a rate of every wearer reporting once a minute, applied in
//     the page's 250 ms batches; each batch timed from setOption to the next painted frame.
//
// Usage: node e2e/bench-bigscreen.mjs [--elders 65000] [--seconds 30] [--rate 333]
// The binary is ZHULAO_BIN, else target/release/zhulao if built, else target/debug/zhulao.
// ZHULAO_BENCH_DB=/path/bench.db keeps the loaded district between runs (loading takes minutes).

import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startZhulao, launchBrowser, signIn, until, shot } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const elders = arg('elders', 65000);
const seconds = arg('seconds', 30);
const rate = arg('rate', 333); // changes per second: 20,000 wearers once a minute

if (!process.env.ZHULAO_BIN) {
  const target = process.env.CARGO_TARGET_DIR ?? resolve(here, '..', '..', 'target');
  const release = join(target, 'release', 'zhulao');
  if (existsSync(release)) process.env.ZHULAO_BIN = release;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN;
};
const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');

console.log(`starting zhulao demo with ${elders} elders (${process.env.ZHULAO_BIN ?? 'debug build'})…`);
const t0 = Date.now();
const server = await startZhulao({ elders, timeoutMs: 1_800_000, logName: 'bench-zhulao.log', database: process.env.ZHULAO_BENCH_DB ?? null });
console.log(`serving at ${server.base} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const browser = await launchBrowser();
try {
  const page = await signIn(browser, server.base, 'supervisor');
  // Snapshot alone (server time + transfer + JSON parse in the page).
  const snap = await page.evaluate(async () => {
    const t = performance.now();
    const r = await fetch('/api/v1/map/wearers', { headers: { Authorization: `Bearer ${sessionStorage.getItem('zhulao.token')}` } });
    const text = await r.text();
    const m = JSON.parse(text);
    return { ms: performance.now() - t, bytes: text.length, total: m.total, online: m.online };
  });
  // First render: reload the big screen and wait for its first finished map frame.
  const renders = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`${server.base}/bigscreen`);
    await until(() => page.evaluate(() => window.__zhulaoBench?.firstRenderMs != null), 120_000, 'first render');
    renders.push(await page.evaluate(() => window.__zhulaoBench.firstRenderMs));
  }
  const wearers = await page.evaluate(() => window.__zhulaoBench.wearers);
  // Live updates through the page's own event path.
  await page.evaluate(() => (window.__zhulaoBench.updates = []));
  const result = await page.evaluate(
    async ({ seconds, rate }) => {
      const ids = window.__zhulaoBigScreen.ids();
      const frames = [];
      let last = performance.now();
      let running = true;
      const loop = (t) => {
        frames.push(t - last);
        last = t;
        if (running) requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
      const perTick = Math.max(1, Math.round(rate / 10));
      let sent = 0;
      const end = performance.now() + seconds * 1000;
      while (performance.now() < end) {
        const events = [];
        for (let k = 0; k < perTick; k++) {
          const id = ids[Math.floor(Math.random() * ids.length)];
          events.push({ topic: 'device', region_code: '140213', elder_id: null, responder_id: null, at: Date.now(), data: { change: Math.random() < 0.5 ? 'online' : 'offline', device_id: id, online: Math.random() < 0.9, lat: 40.0 + Math.random() * 0.12, lon: 113.22 + Math.random() * 0.15 } });
        }
        window.__zhulaoBigScreen.apply(events);
        sent += events.length;
        await new Promise((r) => setTimeout(r, 100));
      }
      running = false;
      return { sent, frames, updates: window.__zhulaoBench.updates };
    },
    { seconds, rate },
  );
  await shot(page, 'bench-bigscreen');
  const long = result.frames.filter((x) => x > 50).length;
  console.log('\nbig screen, 1920×1080, headless Chromium (software rendering, --disable-gpu)');
  console.log(`  wearers on the map                 ${wearers}`);
  console.log(`  wearer snapshot                    ${(snap.bytes / 1024).toFixed(0)} KiB, ${f(snap.ms)} ms to fetch and parse`);
  console.log(`  first render (fetch + draw)        ${renders.map(f).join(' / ')} ms (3 loads)`);
  console.log(`  live changes applied               ${result.sent} over ${seconds} s (${(result.sent / seconds).toFixed(0)}/s) in ${result.updates.length} map updates`);
  console.log(`  per-update frame time              p50 ${f(pct(result.updates, 0.5))} ms, p90 ${f(pct(result.updates, 0.9))} ms, max ${f(Math.max(...result.updates))} ms`);
  console.log(`  animation frames                   ${result.frames.length} (${(result.frames.length / seconds).toFixed(1)} fps), ${long} longer than 50 ms, p50 ${f(pct(result.frames, 0.5))} ms, p99 ${f(pct(result.frames, 0.99))} ms`);
} finally {
  await browser.close();
  await server.stop();
}
