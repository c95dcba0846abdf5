// End-to-end: an elder's monitoring settings (监护设置) on the elder detail page against a
// real `zhulao demo` (its own, fresh database). The admin adds a safe zone around the elder's
// home and raises the SpO2 low limit, saves, and finds both after a reload and in the API;
// invalid values show the server's errors in Chinese (and in English after the switch) and
// write nothing; a concurrent change answers with the stale-version message; an operator
// reads the settings without controls to change them, and the supervisor is told it may not
// see them while the rest of the page works.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithBrowser, signIn, api, call, shot } from './harness.mjs';

let server;
let browser;
let admin;
const ctx = {};

before(async () => {
  ({ server, browser } = await startWithBrowser({ elders: 2000, logName: 'zhulao-monitoring.log' }));
  admin = await signIn(browser, server.base, 'admin');
  // An elder with a home location that operator1 (read-only here) sees too.
  const operator = await signIn(browser, server.base, 'operator1');
  const theirs = await api(operator, '/api/v1/elders?per_page=50');
  await operator.context().close();
  ctx.elder = theirs.body.items.find((e) => e.location);
  assert.ok(ctx.elder, 'an elder with a home location');
  const m = await api(admin, `/api/v1/elders/${ctx.elder.id}/monitoring`);
  assert.equal(m.status, 200, JSON.stringify(m.body));
  ctx.defaults = m.body.defaults;
  ctx.spo2 = ctx.defaults.vital_limits.find((l) => l.kind === 'spo2');
  assert.ok(ctx.spo2, 'a default SpO2 limit');
  // The form keeps an empty side at the default, within the settable range (SpO2 at most 100).
  ctx.spo2High = Math.min(ctx.spo2.high, 100);
}, { timeout: 360_000 });

after(async () => {
  await admin?.context().close();
  await browser?.close();
  await server?.stop();
});

const monitoringUrl = () => `${server.base}/registry/elders/${ctx.elder.id}?tab=monitoring`;
const settingsOf = async (page) => (await api(page, `/api/v1/elders/${ctx.elder.id}/monitoring`)).body;

test('the admin adds a circle around home and a SpO2 low limit; both persist', { timeout: 120_000 }, async () => {
  await admin.goto(`${server.base}/registry/elders/${ctx.elder.id}`);
  await admin.waitForSelector('[data-testid=record]');
  await admin.click('[data-testid=tab-r_tab_monitoring]');
  await admin.waitForSelector('[data-testid=monitoring] [data-testid=mon-vitals]');
  assert.equal(new URL(admin.url()).search, '?tab=monitoring');
  // Nothing set: empty inputs with the defaults as placeholders, no safe zones.
  assert.equal(await admin.inputValue('[data-testid=mon-spo2-low]'), '');
  assert.equal(await admin.getAttribute('[data-testid=mon-spo2-low]', 'placeholder'), String(ctx.spo2.low));
  assert.equal(await admin.getAttribute('[data-testid=mon-inactivity]', 'placeholder'), String(ctx.defaults.inactivity_min));
  await admin.waitForSelector('[data-testid=mon-no-zones]');

  await admin.click('[data-testid=mon-add-home]');
  const zone = '[data-testid=mon-zone-0]';
  await admin.waitForSelector(zone);
  assert.equal(await admin.inputValue(`${zone} [data-testid=mon-zone-name]`), '家附近');
  assert.equal(Number(await admin.inputValue(`${zone} [data-testid=mon-zone-lat]`)), ctx.elder.location.lat);
  assert.equal(Number(await admin.inputValue(`${zone} [data-testid=mon-zone-lon]`)), ctx.elder.location.lon);
  assert.equal(await admin.inputValue(`${zone} [data-testid=mon-zone-radius]`), '500');
  await admin.fill('[data-testid=mon-spo2-low]', '92');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-msg]:has-text("已保存")');
  await shot(admin, 'elder-monitoring');

  // After a reload the page opens on the same tab with what was saved.
  await admin.reload();
  await admin.waitForSelector('[data-testid=monitoring] [data-testid=mon-zone-0]');
  assert.equal(await admin.inputValue('[data-testid=mon-spo2-low]'), '92');
  assert.equal(await admin.inputValue('[data-testid=mon-spo2-high]'), String(ctx.spo2High));
  assert.equal(await admin.inputValue('[data-testid=mon-heart_rate-low]'), '');
  assert.equal(await admin.inputValue(`${zone} [data-testid=mon-zone-name]`), '家附近');
  assert.equal(await admin.inputValue(`${zone} [data-testid=mon-zone-radius]`), '500');
  assert.equal(await admin.inputValue('[data-testid=mon-inactivity]'), '');

  // And in the API.
  const m = await settingsOf(admin);
  assert.deepEqual(m.settings.vital_limits, [{ kind: 'spo2', low: 92, high: ctx.spo2High }]);
  assert.equal(m.settings.safe_zones.length, 1);
  const z = m.settings.safe_zones[0];
  assert.equal(z.name, '家附近');
  assert.equal(z.shape, 'circle');
  assert.deepEqual(z.center, { lat: ctx.elder.location.lat, lon: ctx.elder.location.lon });
  assert.equal(z.radius_m, 500);
  assert.equal(m.settings.inactivity_min, null);
  ctx.version = m.version;
});

test('invalid values show the server’s errors in Chinese (and English) and write nothing', { timeout: 120_000 }, async () => {
  await admin.goto(monitoringUrl());
  const zone = '[data-testid=mon-zone-0]';
  await admin.waitForSelector(zone);
  await admin.fill(`${zone} [data-testid=mon-zone-radius]`, '5');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-msg] [data-testid=mon-errors] li:has-text("安全区半径应在 50~20000 米之间")');
  assert.match(await admin.getAttribute(`${zone} [data-testid=mon-zone-radius]`, 'class'), /invalid/);
  await shot(admin, 'elder-monitoring-error');

  // Several at once: every one is listed.
  await admin.fill('[data-testid=mon-spo2-low]', '95');
  await admin.fill('[data-testid=mon-spo2-high]', '90');
  await admin.fill('[data-testid=mon-inactivity]', '10');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-errors] li:has-text("血氧 下限应低于上限")');
  const errors = await admin.$$eval('[data-testid=mon-errors] li', (l) => l.map((x) => x.textContent));
  assert.deepEqual(errors, ['血氧 下限应低于上限', '安全区半径应在 50~20000 米之间', '无活动报警时长应在 30~1440 分钟之间']);
  assert.match(await admin.getAttribute('[data-testid=mon-spo2-high]', 'class'), /invalid/);

  // A polygon line that is not "lat,lon" is caught before sending.
  await admin.click('[data-testid=mon-add-polygon]');
  await admin.fill('[data-testid=mon-zone-1] [data-testid=mon-zone-points]', '40.07,113.30\n四十,113.31');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-errors] li:has-text("安全区 2：第 2 行应为“纬度,经度”")');

  // The English switch keeps the tab; the server's message comes in English.
  await admin.click('[data-testid=lang]');
  await admin.waitForSelector('[data-testid=tab-r_tab_monitoring]:has-text("Monitoring settings")');
  await admin.waitForSelector(zone);
  await admin.fill(`${zone} [data-testid=mon-zone-radius]`, '5');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-errors] li:has-text("a safe zone\'s radius must be 50–20,000 m")');
  await admin.click('[data-testid=lang]');
  await admin.waitForSelector('[data-testid=tab-r_tab_monitoring]:has-text("监护设置")');

  // Nothing was written.
  const m = await settingsOf(admin);
  assert.equal(m.version, ctx.version);
  assert.equal(m.settings.safe_zones[0].radius_m, 500);
  assert.deepEqual(m.settings.vital_limits, [{ kind: 'spo2', low: 92, high: ctx.spo2High }]);
});

test('a polygon zone and the inactivity period save; a concurrent change is reported', { timeout: 120_000 }, async () => {
  await admin.goto(monitoringUrl());
  await admin.waitForSelector('[data-testid=mon-zone-0]');
  await admin.click('[data-testid=mon-add-polygon]');
  const poly = '[data-testid=mon-zone-1]';
  await admin.fill(`${poly} [data-testid=mon-zone-name]`, '小区');
  await admin.fill(`${poly} [data-testid=mon-zone-points]`, '40.07,113.30\n40.07，113.31\n40.08 113.30\n');
  await admin.fill('[data-testid=mon-inactivity]', '180');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-msg]:has-text("已保存")');
  let m = await settingsOf(admin);
  assert.deepEqual(m.settings.safe_zones[1], { name: '小区', shape: 'polygon', points: [{ lat: 40.07, lon: 113.3 }, { lat: 40.07, lon: 113.31 }, { lat: 40.08, lon: 113.3 }] });
  assert.equal(m.settings.inactivity_min, 180);

  // Removing a zone saves without it.
  await admin.click(`${poly} [data-testid=mon-zone-remove]`);
  await admin.waitForSelector(poly, { state: 'detached' });
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-msg]:has-text("已保存")');
  m = await settingsOf(admin);
  assert.equal(m.settings.safe_zones.length, 1);

  // Someone else saves meanwhile: this page's version is stale.
  const other = await call(admin, 'PUT', `/api/v1/elders/${ctx.elder.id}/monitoring`, { ...m.settings, inactivity_min: 240 });
  assert.equal(other.status, 200, JSON.stringify(other.body));
  await admin.fill('[data-testid=mon-inactivity]', '200');
  await admin.click('[data-testid=mon-save]');
  await admin.waitForSelector('[data-testid=mon-msg]:has-text("记录已被他人修改")');
  assert.equal((await settingsOf(admin)).settings.inactivity_min, 240);
});

test('an operator reads the settings without controls; the supervisor may not see them', { timeout: 120_000 }, async () => {
  const operator = await signIn(browser, server.base, 'operator1');
  assert.equal((await api(operator, `/api/v1/elders/${ctx.elder.id}/monitoring`)).status, 200);
  await operator.goto(monitoringUrl());
  await operator.waitForSelector('[data-testid=mon-read-only]');
  assert.equal(await operator.inputValue('[data-testid=mon-spo2-low]'), '92');
  assert.ok(await operator.isDisabled('[data-testid=mon-spo2-low]'));
  assert.ok(await operator.isDisabled('[data-testid=mon-zone-0] [data-testid=mon-zone-radius]'));
  for (const testid of ['mon-save', 'mon-add-home', 'mon-zone-remove']) assert.equal(await operator.$(`[data-testid=${testid}]`), null, testid);
  // And the API refuses the operator's write.
  const refused = await call(operator, 'PUT', `/api/v1/elders/${ctx.elder.id}/monitoring`, {});
  assert.equal(refused.status, 403);
  await shot(operator, 'elder-monitoring-read-only');
  await operator.context().close();

  const supervisor = await signIn(browser, server.base, 'supervisor');
  assert.equal((await api(supervisor, `/api/v1/elders/${ctx.elder.id}/monitoring`)).status, 403);
  await supervisor.goto(monitoringUrl());
  await supervisor.waitForSelector('[data-testid=monitoring-forbidden]:has-text("无权查看")');
  await supervisor.click('[data-testid=tab-r_tab_record]');
  await supervisor.waitForSelector('[data-testid=record]');
  await supervisor.context().close();
});
