// Sign-in: username and password; on success, the role's home page.

import { login, ApiError } from '../api';
import { h, clear } from '../dom';
import { t, setLang, currentLang } from '../i18n';
import { navigate, home, rerender } from '../main';

export function loginPage(root: HTMLElement): void {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'username' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login-card' },
    h('h1', null, t('app_name')),
    h('h2', null, t('login_title')),
    h('label', null, t('username'), user),
    h('label', null, t('password'), pass),
    msg,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'login' }, t('login_button')),
    h('p', { class: 'hint' }, t('demo_hint')),
    h('button', { type: 'button', class: 'link', onclick: () => { setLang(currentLang() === 'zh' ? 'en' : 'zh'); rerender(); } }, t('lang_switch')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    try {
      const a = await login(user.value.trim(), pass.value);
      navigate(home(a.role), true);
    } catch (err) {
      msg.textContent = err instanceof ApiError && err.status !== 401 ? err.text() : t('login_failed');
    }
  });
  clear(root, h('div', { class: 'login-wrap' }, form));
  user.focus();
}
