// End-to-end: the console in headless Chromium against a real `zhulao demo` with its
// simulated wearers. Every role signs in and lands on its page; a simulated fall reaches
// the call-centre console within 2 s with its sound cue; the operator answers, dispatches
// and closes it while the big screen's counters follow; a family account sees only its own
// elder. Screenshots of every main page go to web/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startWithBrowser, signIn, api, shot, until, ARTIFACTS } from './harness.mjs';

let server;
let browser;

before(async () => {
  ({ server, browser } = await startWithBrowser({ elders: 2000 }));
}, { timeout: 360_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

const text = async (page, testid) => (await page.textContent(`[data-testid=${testid}]`))?.trim();
const num = async (page, testid) => Number((await text(page, testid)) ?? NaN);

test('a fall reaches the console within 2 s with its sound cue; the operator works it through; the big screen follows', { timeout: 300_000 }, async () => {
  const operator = await signIn(browser, server.base, 'operator1');
  assert.equal(new URL(operator.url()).pathname, '/console');
  await operator.waitForSelector('[data-testid=queue]');
  // Record when each queue entry appears on screen.
  await operator.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid^="alarm-"]')) {
        const id = el.getAttribute('data-testid').slice(6);
        window.__seen[id] ??= Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true });
    window.__startCues = window.__zhulaoCues.length;
  });
  const supervisor = await signIn(browser, server.base, 'supervisor');
  assert.equal(new URL(supervisor.url()).pathname, '/bigscreen');
  await until(async () => (await num(supervisor, 'bs-online')) >= 0 && (await text(supervisor, 'bs-total')) !== '', 30_000, 'the big screen to load');
  await until(() => supervisor.evaluate(() => window.__zhulaoBench?.firstRenderMs != null), 30_000, 'the map to render');
  const before = { today: await num(supervisor, 'bs-alarms-today') };

  // The demo's first fall comes about 20 s after start; others follow at random.
  const cue = await until(
    () => operator.evaluate(() => window.__zhulaoCues.slice(window.__startCues).find((c) => c.kind === 'fall')),
    150_000,
    'a simulated fall on the console',
  );
  const id = cue.alarmId;
  const detail = await api(operator, `/api/v1/alarms/${id}`);
  assert.equal(detail.status, 200);
  const raisedAt = detail.body.alarm.raised_at;
  const seenAt = await operator.evaluate((k) => window.__seen[k], String(id));
  assert.ok(seenAt, 'the alarm is in the queue');
  console.log(`fall #${id}: on screen ${seenAt - raisedAt} ms after it was raised; cue ${cue.at - raisedAt} ms, audio ${cue.audio}`);
  assert.ok(seenAt - raisedAt <= 2000, `on screen ${seenAt - raisedAt} ms after being raised`);
  assert.ok(cue.at - raisedAt <= 2000, `cue ${cue.at - raisedAt} ms after being raised`);
  assert.equal(cue.audio, 'running', 'the cue played through WebAudio');

  // The big screen counts it.
  await until(async () => (await num(supervisor, 'bs-alarms-today')) > before.today, 10_000, 'alarms today to go up');

  // One click answers it and opens the detail.
  await operator.click(`[data-testid=answer-${id}]`);
  await until(async () => (await operator.getAttribute(`[data-testid=alarm-${id}]`, 'data-stage')) === 'answered', 10_000, 'answered');
  await operator.waitForSelector('[data-testid=timer-answer]');
  await operator.selectOption('[data-testid=assessment]', 'phone_advice');
  await operator.click('[data-testid=do-assess]');
  await until(async () => (await operator.getAttribute(`[data-testid=alarm-${id}]`, 'data-stage')) === 'assessed', 10_000, 'assessed');
  // The fall's trace arrives a few seconds after the alarm; the detail refreshes itself.
  await until(async () => (await operator.$('[data-testid=trace] canvas')) !== null, 30_000, 'the acceleration trace chart');
  await operator.waitForSelector('[data-testid=alarm-map] canvas');
  await operator.waitForSelector('[data-testid=contacts]');
  await shot(operator, 'console-alarm');
  await operator.click('[data-testid=do-dispatch]');
  await until(async () => (await operator.getAttribute(`[data-testid=alarm-${id}]`, 'data-stage')) === 'dispatched', 10_000, 'dispatched');
  await until(async () => (await num(supervisor, 'bs-on-the-way')) >= 1, 10_000, 'a responder on the way on the big screen');
  await shot(supervisor, 'bigscreen');
  await operator.selectOption('[data-testid=outcome]', 'resolved_on_site');
  await operator.fill('[data-testid=notes]', '扶起，无外伤');
  await operator.click('[data-testid=do-close]');
  await until(async () => (await operator.$(`[data-testid=alarm-${id}]`)) === null, 10_000, 'the alarm to leave the queue');
  await until(async () => ((await text(supervisor, 'bs-feed')) ?? '').includes(`#${id}`) && (await supervisor.$$eval('[data-testid=bs-feed] li.closed', (l) => l.map((x) => x.textContent))).some((s) => s.includes(`#${id}`)), 10_000, 'the close on the big screen feed');
  const closed = await api(operator, `/api/v1/alarms/${id}`);
  assert.equal(closed.body.alarm.stage, 'closed');
  assert.equal(closed.body.case.outcome, 'resolved_on_site');
  assert.ok(closed.body.case.offers.length >= 1, 'a responder was dispatched');
  await operator.context().close();
  await supervisor.context().close();
});

test('every role signs in and lands on its page (screenshots)', { timeout: 240_000 }, async () => {
  const landing = {
    admin: ['/console', 'queue'],
    supervisor: ['/bigscreen', 'bs-map'],
    operator1: ['/console', 'queue'],
    caregiver1: ['/caregiver', 'dispatches'],
    manager1: ['/registry/elders', 'elders'],
    station1: ['/registry/elders', 'elders'],
    family1: ['/family', 'family-status'],
  };
  for (const [user, [path, testid]] of Object.entries(landing)) {
    const page = await signIn(browser, server.base, user);
    assert.equal(new URL(page.url()).pathname, path, user);
    await page.waitForSelector(`[data-testid=${testid}]`, { timeout: 20_000 });
    await page.context().close();
  }
  // The login page, in Chinese and in English.
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const login = await ctx.newPage();
  await login.goto(`${server.base}/login`);
  assert.match(await login.textContent('h2'), /登录/);
  await shot(login, 'login');
  await ctx.close();

  // The admin's registry pages.
  const admin = await signIn(browser, server.base, 'admin');
  await admin.waitForSelector('[data-testid=queue]');
  await shot(admin, 'console');
  for (const [path, testid, name] of [
    ['/registry/elders', 'elders', 'elders'],
    ['/registry/facilities', 'facilities', 'facilities'],
    ['/registry/staff', 'staff', 'staff'],
    ['/registry/devices', 'devices', 'devices'],
  ]) {
    await admin.click(`a[href="${path}"]`);
    await admin.waitForSelector(`[data-testid=${testid}]`);
    await shot(admin, name);
  }
  // Search, then an elder's detail with its tabs.
  await admin.click('a[href="/registry/elders"]');
  await admin.fill('[data-testid=q]', '王');
  await admin.click('[data-testid=search]');
  await admin.waitForSelector('[data-testid=elders] a');
  await admin.click('[data-testid=elders] a');
  await admin.waitForSelector('[data-testid=record]');
  await shot(admin, 'elder-detail');
  await admin.click('[data-testid=tab-r_tab_devices]');
  await admin.waitForSelector('[data-testid=elder-devices]');
  await admin.click('[data-testid=tab-r_tab_alarms]');
  await admin.waitForSelector('[data-testid=elder-alarms]');
  // The English switch.
  await admin.click('[data-testid=lang]');
  await admin.waitForSelector('text=Elders');
  await shot(admin, 'elder-detail-en');
  await admin.click('[data-testid=lang]');
  await admin.context().close();

  // The caregiver's phone view.
  const cg = await signIn(browser, server.base, 'caregiver1', { width: 390, height: 844 });
  await cg.waitForSelector('[data-testid=dispatches]');
  await shot(cg, 'caregiver-phone');
  await cg.context().close();
});

test('ledger import shows the row-error report', { timeout: 120_000 }, async () => {
  const page = await signIn(browser, server.base, 'station1');
  await page.click('a[href="/registry/ledger"]');
  await page.waitForSelector('[data-testid=ledger-file]');
  const csv = '身份证号,姓名,住址,居住状况,所属社区,联系电话\n140213194001010011,张三,平城区某街1号,独居,不存在社区,12345\n,李四,平城区某街2号,独居,不存在社区,13800000000\n';
  await page.setInputFiles('[data-testid=ledger-file]', { name: 'ledger.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.click('[data-testid=upload]');
  await page.waitForSelector('[data-testid=row-errors]');
  const rows = await page.$$eval('[data-testid=row-errors] tbody tr', (r) => r.map((x) => x.textContent));
  assert.ok(rows.length >= 2, JSON.stringify(rows));
  assert.match(await text(page, 'report-summary'), /共 2 行/);
  await shot(page, 'ledger-import');
  await page.context().close();
});

test('a family account sees only its own elder', { timeout: 120_000 }, async () => {
  const page = await signIn(browser, server.base, 'family1', { width: 390, height: 844 });
  assert.equal(new URL(page.url()).pathname, '/family');
  await page.waitForSelector('[data-testid=family-status]');
  const cards = await page.$$('[data-testid^=family-elder-]:not([data-testid=family-elder-name])');
  assert.equal(cards.length, 1, 'one elder on the page');
  const mine = await api(page, '/api/v1/elders?per_page=200');
  assert.equal(mine.status, 200);
  assert.equal(mine.body.total, 1);
  const myId = mine.body.items[0].id;
  // Another elder of the district is not there at all; neither are other elders' alarms.
  const other = await api(page, `/api/v1/elders/${myId === 1 ? 2 : 1}`);
  assert.equal(other.status, 404);
  const alarms = await api(page, '/api/v1/alarms?per_page=200');
  assert.equal(alarms.status, 200);
  assert.ok(alarms.body.items.every((a) => a.alarm.elder_id === myId), 'only its elder’s alarms');
  assert.equal((await api(page, '/api/v1/map/wearers')).status, 403);
  assert.equal((await api(page, '/api/v1/alarms/stats')).status, 403);
  // The staff pages say no.
  await page.goto(`${server.base}/registry/elders`);
  await page.waitForSelector('text=无权查看此页面');
  await page.goto(`${server.base}/family`);
  await page.waitForSelector('[data-testid=family-status]');
  await shot(page, 'family-phone');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await shot(page, 'family');
  await page.context().close();
});

test('the console is served with the right content types and the API keeps precedence', async () => {
  const index = await fetch(`${server.base}/console`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  const html = await index.text();
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(js, html);
  const asset = await fetch(`${server.base}${js}`);
  assert.match(asset.headers.get('content-type'), /javascript/);
  assert.match(asset.headers.get('cache-control'), /immutable/);
  const notFound = await fetch(`${server.base}/api/v1/nothing-here`);
  assert.equal(notFound.status, 404);
  assert.equal((await notFound.json()).code, 'not_found');
  assert.equal((await fetch(`${server.base}/healthz`).then((r) => r.text())), 'ok');
  // The log never carries the demo's ID numbers (a spot check of personal data in logs).
  const log = await readFile(`${ARTIFACTS}/zhulao.log`, 'utf8');
  assert.ok(!/\b14021319\d{10}\b/.test(log), 'no ID numbers in the log');
});
