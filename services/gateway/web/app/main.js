// The inbox's entry point: signs in (or finds the session), draws the shell (navigation,
// store switcher, language picker, live status) and renders the page of the hash route.

import {onUnauthorized, session} from './api.js';
import {h, replace} from './dom.js';
import {LANGUAGES, currentLanguage, preferredLanguage, setLanguage, t} from './i18n.js';
import {startLive, stopLive} from './live.js';
import {currentRoute, navigate} from './router.js';
import {renderSignIn} from './pages/signin.js';
import {renderInbox} from './pages/inbox.js';
import {renderDiscussion} from './pages/discussion.js';
import {renderAutoresponders} from './pages/autoresponders.js';
import {renderConnections} from './pages/connections.js';

const STORE_KEY = 'parley.store';

const app = {
  account: null, // {account_id, store_ids}
  storeId: sessionStorage.getItem(STORE_KEY) || '',
  liveState: 'offline',
  cleanup: null,
};

/** The stores the list and pages look at: the chosen one, or all of the account's. */
export function selectedStores() {
  if (!app.account) return [];
  return app.storeId ? [app.storeId] : app.account.store_ids;
}

export function accountStores() {
  return app.account ? app.account.store_ids : [];
}

export function selectedStore() {
  return app.storeId;
}

function main() {
  return document.getElementById('main');
}

function setLiveState(state) {
  app.liveState = state;
  const el = document.querySelector('[data-testid="live-status"]');
  if (el) {
    el.dataset.state = state;
    el.textContent = t(`live.${state}`);
  }
}

function drawShell() {
  const shell = document.getElementById('shell');
  shell.hidden = !app.account;
  if (!app.account) return;
  const route = currentRoute().path[0] || 'inbox';
  const link = (name, testid) => h('a', {
    href: `#/${name}`, testid, 'aria-current': route === name ? 'page' : null,
  }, t(`nav.${name}`));
  replace(document.getElementById('nav'),
    h('ul', {}, h('li', {}, link('inbox', 'nav-inbox')),
      h('li', {}, link('autoresponders', 'nav-autoresponders')),
      h('li', {}, link('connections', 'nav-connections'))));

  const storeSelect = h('select', {id: 'store-switcher', testid: 'store-switcher', onchange: (e) => {
    app.storeId = e.target.value;
    sessionStorage.setItem(STORE_KEY, app.storeId);
    render();
  }}, h('option', {value: ''}, t('shell.allStores')),
  app.account.store_ids.map((s) => h('option', {value: s}, s)));
  storeSelect.value = app.account.store_ids.includes(app.storeId) ? app.storeId : '';

  const languageSelect = h('select', {id: 'language-picker', testid: 'language-picker',
    onchange: async (e) => {
      await setLanguage(e.target.value);
      render();
    }}, LANGUAGES.map((l) => h('option', {value: l, lang: l}, t(`language.${l}`))));
  languageSelect.value = currentLanguage();

  replace(document.getElementById('shell-tools'),
    h('label', {for: 'store-switcher'}, t('shell.store')), storeSelect,
    h('label', {for: 'language-picker'}, t('shell.language')), languageSelect,
    h('span', {class: 'live', testid: 'live-status', 'data-state': app.liveState,
      role: 'status'}, t(`live.${app.liveState}`)),
    h('button', {type: 'button', class: 'link', testid: 'signout', onclick: signOut}, t('shell.signOut')));
}

async function signOut() {
  try {
    await session.close();
  } finally {
    app.account = null;
    stopLive();
    navigate('sign-in');
  }
}

async function signedIn(account) {
  app.account = account;
  if (app.storeId && !account.store_ids.includes(app.storeId)) app.storeId = '';
  startLive(setLiveState);
}

function pageFor(path) {
  switch (path[0]) {
    case 'discussions': return path[1] ? renderDiscussion : renderInbox;
    case 'autoresponders': return renderAutoresponders;
    case 'connections': return renderConnections;
    default: return renderInbox;
  }
}

async function render() {
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  const route = currentRoute();
  const root = main();
  delete root.dataset.ready;
  if (!app.account || route.path[0] === 'sign-in') {
    if (app.account && route.path[0] === 'sign-in') {
      navigate('inbox');
      return;
    }
    drawShell();
    app.cleanup = renderSignIn(root, {
      onSignedIn: async (account) => {
        await signedIn(account);
        navigate('inbox');
      },
    });
    return;
  }
  drawShell();
  const page = pageFor(route.path);
  replace(root, h('p', {class: 'loading'}, t('common.loading')));
  try {
    app.cleanup = (await page(root, {route, stores: selectedStores(), storeId: app.storeId,
      allStores: app.account.store_ids})) || null;
  } catch (error) {
    replace(root, h('p', {class: 'error', role: 'alert'}, `${t('common.error')}: ${error.message}`));
  }
  // Move focus into the new page (screen readers announce it) unless the page already
  // put it somewhere on purpose (e.g. the reply box after `r`).
  if (!root.contains(document.activeElement) || document.activeElement === document.body) {
    root.focus({preventScroll: true});
  }
}

async function start() {
  await setLanguage(preferredLanguage());
  onUnauthorized(() => {
    if (!app.account) return;
    app.account = null;
    stopLive();
    navigate('sign-in');
  });
  try {
    await signedIn(await session.read());
  } catch {
    app.account = null;
  }
  window.addEventListener('hashchange', render);
  await render();
}

start();
