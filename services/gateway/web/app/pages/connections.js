// Marketplace connections with their sync health (F2, F3); for the email-relay family
// (Amazon, CDON) the inbound address the merchant sets in the marketplace back office.

import {connections} from '../api.js';
import {h, replace} from '../dom.js';
import {formatDate, formatNumber, t} from '../i18n.js';

export async function renderConnections(root, {stores, allStores}) {
  root.dataset.testid = 'page-connections';
  const inScope = new Set(stores.length ? stores : allStores);
  const list = (await connections.list()).items.filter((c) => inScope.has(c.store_id));
  const rows = list.map((c) => h('tr', {testid: 'connection-row', 'data-connection-id': c.id,
    'data-health': c.health},
  h('th', {scope: 'row'}, c.marketplace),
  h('td', {}, c.store_id),
  h('td', {}, c.family),
  h('td', {}, c.messaging_enabled ? t('common.yes') : t('common.no')),
  h('td', {}, h('span', {class: `health health-${c.health}`, testid: 'connection-health'},
    t(`health.${c.health}`)), c.health_reason ? h('small', {class: 'hint'}, ` ${c.health_reason}`) : null,
  c.last_error ? h('small', {class: 'hint'}, ` — ${c.last_error.message}`) : null),
  h('td', {}, c.last_sync_at ? formatDate(c.last_sync_at) : '—'),
  h('td', {}, formatNumber(c.consecutive_failures)),
  h('td', {}, c.inbound_address
    ? h('code', {testid: 'connection-relay-address'}, c.inbound_address) : '—')));
  replace(root,
    h('h1', {}, t('conn.title')),
    h('p', {}, t('conn.intro')),
    list.length ? h('table', {class: 'table'},
      h('caption', {class: 'visually-hidden'}, t('conn.title')),
      h('thead', {}, h('tr', {}, ['marketplace', 'store', 'family', 'messaging', 'health', 'lastSync',
        'failures', 'relay'].map((k) => h('th', {scope: 'col'}, t(`conn.${k}`))))),
      h('tbody', {}, rows)) : h('p', {testid: 'connections-empty'}, t('conn.empty')));
  root.dataset.ready = 'true';
  return () => {
    delete root.dataset.ready;
  };
}
