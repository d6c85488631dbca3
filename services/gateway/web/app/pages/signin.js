// Sign-in: the merchant pastes an API key; POST /session answers an HttpOnly cookie,
// so the key is neither stored by the page nor readable by any script afterwards.

import {session} from '../api.js';
import {h, replace} from '../dom.js';
import {t} from '../i18n.js';

export function renderSignIn(root, {onSignedIn}) {
  const input = h('input', {id: 'signin-key', type: 'password', testid: 'signin-key',
    autocomplete: 'off', required: true, spellcheck: 'false'});
  const error = h('p', {class: 'error', role: 'alert', testid: 'signin-error', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', testid: 'signin-submit'},
    t('signin.submit'));
  const form = h('form', {class: 'card signin', onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const account = await session.open(input.value.trim());
      input.value = '';
      await onSignedIn(account);
    } catch (e) {
      error.textContent = e.status === 401 ? t('signin.invalid') : `${t('common.error')}: ${e.message}`;
      error.hidden = false;
      input.focus();
    } finally {
      submit.disabled = false;
    }
  }},
  h('h1', {}, t('signin.title')),
  h('p', {}, t('signin.intro')),
  h('div', {class: 'field'}, h('label', {for: 'signin-key'}, t('signin.key')), input),
  error, submit);
  root.dataset.testid = 'page-sign-in';
  replace(root, form);
  root.dataset.ready = 'true';
  input.focus();
  return () => {
    delete root.dataset.ready;
  };
}
