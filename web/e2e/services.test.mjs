// End-to-end: the services screens on issue 5's API against a real `zhulao demo`. The demo
// has no orders or menus, so the tests create what they need through the API first (never
// in the UI's data). A caregiver on a phone (390×844, geolocation granted and set to the
// elder's home) sees an order nearby with the elder's contact masked, grabs it, sets off,
// checks in and out with the phone's position while the operator's board follows; the
// operator places an order and assigns it; a family account sees only its own elder's
// orders. Screenshots of the new pages go to web/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithBrowser, signIn, api, call, shot, until } from './harness.mjs';

let server;
let browser;
let admin;
const ctx = {};

before(async () => {
  ({ server, browser } = await startWithBrowser({ elders: 2000, logName: 'zhulao-services.log' }));
  admin = await signIn(browser, server.base, 'admin');
  // caregiver1's street and an elder living there with a known home.
  const cgs = await api(admin, '/api/v1/accounts?role=caregiver&per_page=200');
  ctx.cg = cgs.body.items.find((a) => a.username === 'caregiver1');
  assert.ok(ctx.cg, 'caregiver1 exists');
  const elders = await api(admin, `/api/v1/elders?region=${ctx.cg.region}&per_page=50`);
  const withHome = elders.body.items.filter((e) => e.location);
  assert.ok(withHome.length >= 2, 'elders with a home in the caregiver’s street');
  [ctx.elder, ctx.elder2] = withHome;
}, { timeout: 360_000 });

after(async () => {
  await admin?.context().close();
  await browser?.close();
  await server?.stop();
});

const state = (page, sel) => page.getAttribute(sel, 'data-state');

test('a caregiver grabs an order nearby and checks in and out with the phone’s position; the board follows', { timeout: 240_000 }, async () => {
  const operator = await signIn(browser, server.base, 'operator1');
  const created = await call(operator, 'POST', '/api/v1/orders', { elder_id: ctx.elder.id, item: 'companionship', note: 'e2e: 陪伴聊天' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  assert.equal(created.body.state, 'published');
  await operator.goto(`${server.base}/services`);
  await operator.waitForSelector(`[data-testid=col-created] [data-testid=board-order-${id}]`);

  const home = { latitude: ctx.elder.location.lat, longitude: ctx.elder.location.lon };
  const cg = await signIn(browser, server.base, 'caregiver1', { width: 390, height: 844 }, { permissions: ['geolocation'], geolocation: home });
  assert.equal(new URL(cg.url()).pathname, '/caregiver');
  await cg.waitForSelector('[data-testid=position]:has-text("已上报位置")', { timeout: 20_000 });
  await cg.waitForSelector(`[data-testid=grab-${id}]`, { timeout: 30_000 });
  // Masked until held, on screen and in the API.
  const offered = await api(cg, '/api/v1/orders/nearby');
  const mine = offered.body.find((n) => n.order.id === id);
  assert.deepEqual(mine.order.elder.masked.sort(), ['address', 'phone']);
  const card = `[data-testid=nearby] [data-testid=order-${id}]`;
  assert.notEqual((await cg.textContent(`${card} [data-testid=elder-address]`)).trim(), ctx.elder.address);
  await shot(cg, 'caregiver-nearby');

  await cg.click(`[data-testid=grab-${id}]`);
  await cg.waitForSelector(`[data-testid=my-orders] [data-testid=order-${id}][data-state=taken]`);
  // Held: the address and phone show.
  assert.equal((await cg.textContent(`[data-testid=my-orders] [data-testid=order-${id}] [data-testid=elder-address]`)).trim(), ctx.elder.address);
  await operator.click('[data-testid=board-refresh]');
  await operator.waitForSelector(`[data-testid=col-taken] [data-testid=board-order-${id}]`);

  await cg.click(`[data-testid=start-trip-${id}]`);
  await cg.waitForSelector(`[data-testid=my-orders] [data-testid=order-${id}][data-state=on_the_way]`);
  await cg.click(`[data-testid=check-in-${id}]`);
  await cg.waitForSelector(`[data-testid=my-orders] [data-testid=order-${id}][data-state=checked_in]`);
  await shot(cg, 'caregiver-phone');
  await operator.click('[data-testid=board-refresh]');
  await operator.waitForSelector(`[data-testid=col-checked_in] [data-testid=board-order-${id}]`);
  await operator.click(`[data-testid=board-order-${id}]`);
  await operator.waitForSelector('[data-testid=order-history] li >> nth=3');
  await shot(operator, 'services-board');

  // Checked in where the elder lives, by the API's own check.
  const detail = await api(operator, `/api/v1/orders/${id}`);
  assert.equal(detail.body.state, 'checked_in');
  assert.equal(detail.body.caregiver_id, ctx.cg.id);
  assert.deepEqual(detail.body.events.map((e) => e.action).filter((a) => ['grab', 'start_trip', 'check_in'].includes(a)), ['grab', 'start_trip', 'check_in']);

  await cg.fill(`[data-testid=notes-${id}]`, '陪老人聊天、散步');
  await cg.click(`[data-testid=check-out-${id}]`);
  await cg.waitForSelector(`[data-testid=my-orders] [data-testid=order-${id}][data-state=completed]`);
  ctx.done = id;
  await cg.context().close();
  await operator.context().close();
});

test('the operator places an order for an elder and assigns a caregiver', { timeout: 120_000 }, async () => {
  const operator = await signIn(browser, server.base, 'operator1');
  await operator.click('a[href="/services"]');
  await operator.waitForSelector('[data-testid=new-order]');
  await operator.fill('[data-testid=new-elder-q]', ctx.elder2.name);
  await operator.click('[data-testid=new-find]');
  await until(async () => (await operator.$$eval('[data-testid=new-elder] option', (o) => o.map((x) => x.value))).includes(String(ctx.elder2.id)), 10_000, 'the elder in the list');
  await operator.selectOption('[data-testid=new-elder]', String(ctx.elder2.id));
  await operator.selectOption('[data-testid=new-item]', 'care_visit');
  await operator.fill('[data-testid=new-note]', 'e2e: 探访');
  await operator.click('[data-testid=new-submit]');
  await operator.waitForSelector('[data-testid=msg]:has-text("已下单")');
  const id = Number(/#(\d+)/.exec(await operator.textContent('[data-testid=msg]'))[1]);
  await operator.waitForSelector(`[data-testid=order-detail] h2:has-text("#${id}")`);
  // Assign the first qualified caregiver offered.
  const to = await operator.inputValue('[data-testid=assign-to]');
  assert.ok(Number(to) > 0, 'a caregiver to assign');
  await operator.click('[data-testid=do-assign]');
  await operator.waitForSelector(`[data-testid=col-taken] [data-testid=board-order-${id}]`);
  await operator.waitForSelector(`[data-testid=order-detail] [data-state=taken]`);
  const o = await api(operator, `/api/v1/orders/${id}`);
  assert.equal(o.body.state, 'taken');
  assert.equal(o.body.caregiver_id, Number(to));
  assert.equal(o.body.assigned_by.role, 'operator');
  assert.equal(o.body.elder.id, ctx.elder2.id);
  await operator.context().close();
});

test('a family account sees only its own elder’s orders', { timeout: 120_000 }, async () => {
  const family = await signIn(browser, server.base, 'family1', { width: 390, height: 844 });
  const mine = await api(family, '/api/v1/elders?per_page=200');
  assert.equal(mine.body.total, 1);
  const myId = mine.body.items[0].id;
  const ours = await call(admin, 'POST', '/api/v1/orders', { elder_id: myId, item: 'home_cleaning' });
  assert.equal(ours.status, 201, JSON.stringify(ours.body));
  await family.reload();
  await family.waitForSelector(`[data-testid=family-order-${ours.body.id}]`);
  const shown = await family.$$eval('[data-testid^=family-order-]', (l) => l.map((x) => Number(x.getAttribute('data-elder'))));
  assert.ok(shown.length >= 1 && shown.every((e) => e === myId), JSON.stringify(shown));
  assert.equal(await family.$(`[data-testid=family-order-${ctx.done}]`), null);
  const list = await api(family, '/api/v1/orders?per_page=200');
  assert.ok(list.body.items.every((o) => o.elder.id === myId), 'only its elder’s orders');
  if (ctx.elder.id !== myId) assert.equal((await api(family, `/api/v1/orders/${ctx.done}`)).status, 404);
  assert.equal((await api(family, '/api/v1/services/today')).status, 403);
  await shot(family, 'family-orders-phone');
  await family.context().close();
});

test('meals, complaints, statements, the big screen’s service figures and the elder’s orders (screenshots)', { timeout: 180_000 }, async () => {
  // A menu and a meal order two days ahead (always before the cut-off), through the API.
  const canteens = await api(admin, '/api/v1/facilities?kind=canteen&per_page=10');
  const canteen = canteens.body.items[0].id;
  const day = new Date(Date.now() + 8 * 3_600_000 + 2 * 86_400_000).toISOString().slice(0, 10);
  const menu = await call(admin, 'PUT', '/api/v1/meals/menus', {
    canteen, date: day, slot: 'lunch',
    options: [{ code: 'set_a', name_zh: 'A 套餐', price: 800, dishes: [{ code: 'tofu', name_zh: '红烧豆腐', tags: ['low_salt', 'soft'] }, { code: 'greens', name_zh: '清炒时蔬', tags: ['low_salt'] }] }],
  });
  assert.equal(menu.status, 200, JSON.stringify(menu.body));
  const meal = await call(admin, 'POST', '/api/v1/meals/orders', { elder_id: ctx.elder.id, canteen_id: canteen, date: day, slot: 'lunch', option: 'set_a', fulfilment: 'delivery' });
  assert.equal(meal.status, 201, JSON.stringify(meal.body));

  await admin.goto(`${server.base}/services?tab=meals`);
  await admin.waitForSelector('[data-testid=menu]');
  await admin.selectOption('[data-testid=canteen]', String(canteen));
  await admin.fill('[data-testid=meal-date]', day);
  await admin.dispatchEvent('[data-testid=meal-date]', 'change');
  await admin.waitForSelector('[data-testid=menu] li:has-text("红烧豆腐")');
  await admin.waitForSelector(`[data-testid=meal-orders] td:has-text("#${ctx.elder.id}")`);
  await admin.waitForSelector('[data-testid=production] li:has-text("红烧豆腐")');
  await admin.waitForSelector(`[data-testid=deliveries] li:has-text("${ctx.elder.name}")`);
  await shot(admin, 'services-meals');
  await admin.click('[data-testid=sv-tab-complaints]');
  await admin.waitForSelector('[data-testid=complaints]');
  await shot(admin, 'services-complaints');
  await admin.click('[data-testid=sv-tab-statements]');
  await admin.waitForSelector('[data-testid=monthly] h2');
  await shot(admin, 'services-statements');

  // The elder's Orders and Meals tabs.
  await admin.goto(`${server.base}/registry/elders/${ctx.elder.id}`);
  await admin.click('[data-testid=tab-r_tab_orders]');
  await admin.waitForSelector(`[data-testid=elder-orders] td:has-text("${ctx.done}")`);
  await shot(admin, 'elder-orders');
  await admin.click('[data-testid=tab-r_tab_meals]');
  await admin.waitForSelector('[data-testid=elder-meals] td:has-text("set_a")');

  // The big screen counts today's orders by service.
  const supervisor = await signIn(browser, server.base, 'supervisor');
  await until(async () => Number(await supervisor.textContent('[data-testid=bs-orders-today]')) >= 3, 30_000, 'orders today on the big screen');
  assert.match(await supervisor.textContent('[data-testid=bs-orders-by-service]'), /助乐|探访关爱|助洁/);
  const today = await api(supervisor, '/api/v1/services/today');
  assert.equal(today.status, 200);
  assert.ok(today.body.orders_today >= 3);
  assert.ok(!JSON.stringify(today.body).includes(ctx.elder.name), 'no personal data');
  await supervisor.context().close();
});
