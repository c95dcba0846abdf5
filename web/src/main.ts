// The console's shell: sign-in, the role's navigation, a history-API router (the server
// answers every console path with index.html), the language switch.

import './style.css';
import { me, logout, Role } from './api';
import { h, clear } from './dom';
import { t, setLang, currentLang, Key } from './i18n';
import { unlock } from './cues';
import { loginPage } from './pages/login';
import { bigScreen } from './pages/bigscreen';
import { callCentre } from './pages/console';
import { eldersPage, elderDetail } from './pages/elders';
import { facilitiesPage, staffPage, devicesPage } from './pages/registry';
import { ledgerPage } from './pages/ledger';
import { familyPage } from './pages/family';
import { caregiverPage } from './pages/caregiver';
import { servicesPage } from './pages/services';

export type Cleanup = (() => void) | void;
export type PageFn = (root: HTMLElement, params: Record<string, string>) => Cleanup | Promise<Cleanup>;

interface Route {
  path: RegExp;
  page: PageFn;
  roles: Role[];
  nav?: Key;
  /** Full screen, without the header (the big screen). */
  bare?: boolean;
}

const STAFF: Role[] = ['admin', 'supervisor', 'operator', 'station_staff', 'care_manager'];

const routes: Route[] = [
  { path: /^\/bigscreen$/, page: bigScreen, roles: ['admin', 'supervisor', 'operator'], nav: 'nav_bigscreen', bare: true },
  { path: /^\/console$/, page: callCentre, roles: ['admin', 'operator'], nav: 'nav_console' },
  { path: /^\/registry\/elders$/, page: eldersPage, roles: STAFF, nav: 'nav_elders' },
  { path: /^\/registry\/elders\/(?<id>\d+)$/, page: elderDetail, roles: STAFF },
  { path: /^\/registry\/facilities$/, page: facilitiesPage, roles: STAFF, nav: 'nav_facilities' },
  { path: /^\/registry\/staff$/, page: staffPage, roles: ['admin', 'supervisor', 'station_staff'], nav: 'nav_staff' },
  { path: /^\/registry\/devices$/, page: devicesPage, roles: STAFF, nav: 'nav_devices' },
  { path: /^\/registry\/ledger$/, page: ledgerPage, roles: ['admin', 'supervisor', 'station_staff'], nav: 'nav_ledger' },
  { path: /^\/services$/, page: servicesPage, roles: STAFF, nav: 'nav_services' },
  { path: /^\/caregiver$/, page: caregiverPage, roles: ['caregiver', 'station_staff'], nav: 'nav_caregiver' },
  { path: /^\/family$/, page: familyPage, roles: ['family'], nav: 'nav_family' },
];

const navPath: Partial<Record<Key, string>> = {
  nav_bigscreen: '/bigscreen',
  nav_console: '/console',
  nav_elders: '/registry/elders',
  nav_facilities: '/registry/facilities',
  nav_staff: '/registry/staff',
  nav_devices: '/registry/devices',
  nav_ledger: '/registry/ledger',
  nav_services: '/services',
  nav_caregiver: '/caregiver',
  nav_family: '/family',
};

export function home(role: Role): string {
  switch (role) {
    case 'supervisor':
      return '/bigscreen';
    case 'admin':
    case 'operator':
      return '/console';
    case 'caregiver':
      return '/caregiver';
    case 'family':
      return '/family';
    default:
      return '/registry/elders';
  }
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

const app = document.getElementById('app')!;
let cleanup: Cleanup;

async function render(): Promise<void> {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app_name');
  const path = location.pathname;
  const account = me();
  if (path === '/login' || !account) {
    if (path !== '/login') history.replaceState(null, '', '/login');
    document.body.className = 'page-login';
    clear(app);
    cleanup = loginPage(app);
    return;
  }
  let route: Route | undefined;
  let params: Record<string, string> = {};
  for (const r of routes) {
    const m = r.path.exec(path);
    if (m) {
      route = r;
      params = { ...(m.groups ?? {}), ...Object.fromEntries(new URLSearchParams(location.search)) };
      break;
    }
  }
  if (!route) {
    navigate(home(account.role), true);
    return;
  }
  document.body.className = route.bare ? 'page-bare' : 'page-app';
  const main = h('main', { class: 'main' });
  if (route.bare) {
    clear(app, main);
  } else {
    clear(app, header(account.role, route), main);
  }
  if (!route.roles.includes(account.role)) {
    clear(main, h('div', { class: 'notice' }, t('forbidden_page')));
    return;
  }
  try {
    cleanup = await route.page(main, params);
  } catch (e) {
    clear(main, h('div', { class: 'notice error' }, t('error'), ': ', String((e as Error).message ?? e)));
  }
}

function header(role: Role, current: Route): HTMLElement {
  const account = me()!;
  const items = routes.filter((r) => r.nav && r.roles.includes(role));
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: home(role), onclick: link(home(role)) }, t('app_name')),
    h(
      'nav',
      null,
      items.map((r) =>
        h(
          'a',
          { href: navPath[r.nav!], class: r === current ? 'active' : '', onclick: link(navPath[r.nav!]!), 'data-nav': r.nav },
          t(r.nav!),
        ),
      ),
    ),
    h(
      'div',
      { class: 'who' },
      h('span', null, account.display_name, ' · ', t(`role_${role}` as Key)),
      h('button', { class: 'link', 'data-testid': 'lang', onclick: () => { setLang(currentLang() === 'zh' ? 'en' : 'zh'); void render(); } }, t('lang_switch')),
      h('button', { class: 'link', 'data-testid': 'logout', onclick: async () => { await logout(); navigate('/login'); } }, t('logout')),
    ),
  );
}

/** An onclick for in-app links (keeps the page, pushes history). */
export function link(path: string): (e: Event) => void {
  return (e: Event) => {
    const me = e as MouseEvent;
    if (me.ctrlKey || me.metaKey || me.shiftKey) return;
    e.preventDefault();
    navigate(path);
  };
}

export function rerender(): void {
  void render();
}

window.addEventListener('popstate', () => void render());
window.addEventListener('zhulao:signed-out', () => navigate('/login', true));
document.addEventListener('click', unlock, { once: true });
setLang(currentLang());
void render();
