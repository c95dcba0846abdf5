// End-to-end: a watch's ID used by two connections at once. The second login raises a device
// conflict on the call-centre console, which lists both connections in Chinese; the operator
// keeps one, and the other connection is dropped.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startWithBrowser, signIn, api, call, shot, until, freePort } from './harness.mjs';

let server;
let browser;
let watchPort;

before(async () => {
  watchPort = await freePort();
  ({ server, browser } = await startWithBrowser({
    elders: 300,
    extra: ['--watch-3g-listen', `127.0.0.1:${watchPort}`],
    logName: 'zhulao-conflict.log',
  }));
}, { timeout: 360_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A TCP connection speaking the 3G protocol from `localAddress`; resolves once it is open. */
function watch(localAddress) {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port: watchPort, localAddress }, () => res(s));
    s.on('error', rej);
    s.received = '';
    s.gone = false;
    s.on('data', (d) => (s.received += d.toString()));
    s.on('close', () => (s.gone = true));
  });
}

test('a second login for a connected watch is a device conflict the operator resolves on the console', { timeout: 180_000 }, async () => {
  const admin = await signIn(browser, server.base, 'admin');
  const serial = '8800000099';
  const registered = await call(admin, 'POST', '/api/v1/devices', { serial, kind: 'watch', model: 'SeTracker Q50' });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const elders = await api(admin, '/api/v1/elders?per_page=1');
  const elderId = elders.body.items[0].id;
  const bound = await call(admin, 'POST', `/api/v1/devices/${registered.body.device.id}/bind`, { elder_id: elderId });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  await admin.context().close();

  // The real watch logs in; then someone else, from another address, with the same ID.
  const real = await watch('127.0.0.1');
  real.write(`[3G*${serial}*0002*LK]`);
  await until(() => real.received.includes('LK'), 10_000, 'the real watch to be answered');
  const impostor = await watch('127.0.0.2');
  impostor.write(`[3G*${serial}*0002*LK]`);

  const operator = await signIn(browser, server.base, 'operator1');
  const alarm = await until(async () => {
    const r = await api(operator, '/api/v1/alarms?kind=device_conflict&open=true');
    return r.body?.items?.[0]?.alarm;
  }, 20_000, 'the device conflict alarm');
  await operator.waitForSelector(`[data-testid=alarm-${alarm.id}]`);
  await operator.click(`[data-testid=alarm-${alarm.id}]`);
  await operator.waitForSelector('[data-testid=conflict]');
  const listed = await operator.textContent('[data-testid=conflict]');
  assert.match(listed, /127\.0\.0\.1/);
  assert.match(listed, /127\.0\.0\.2/);
  assert.match(listed, /连接/);
  assert.doesNotMatch(await operator.textContent('.cc-title'), /device_conflict/, 'the kind is shown by its name');
  assert.match(await operator.textContent('.cc-title'), /设备冲突/);
  await shot(operator, 'console-device-conflict');

  // The operator (having called the elder) keeps the first connection: the other is dropped.
  const detail = await api(operator, `/api/v1/alarms/${alarm.id}`);
  const first = detail.body.detail.connections.find((c) => c.peer.startsWith('127.0.0.1:')).connection;
  await operator.click(`[data-testid=keep-${first}]`);
  await until(() => impostor.gone, 10_000, 'the impostor to be dropped');
  assert.equal(real.gone, false, 'the kept connection stays');
  real.destroy();
  await operator.context().close();
});
