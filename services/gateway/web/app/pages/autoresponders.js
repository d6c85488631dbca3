// Autoresponder settings per store × marketplace × channel (F19): the template with
// its placeholders, a preview with sample values, save, test send, restore default.

import {autoresponders, connections} from '../api.js';
import {field, h, replace} from '../dom.js';
import {formatDate, t} from '../i18n.js';

// parley_store.autoresponders.PLACEHOLDERS, with the sample values of the preview.
const SAMPLES = {buyer_name: 'Jane Doe', order_id: 'ORDER-1001', marketplace: '', shop_name: ''};
// The channels each connector family reads (libs/connectors).
const CHANNELS_BY_FAMILY = {allegro: ['message_center', 'discussions'], email_relay: ['email']};

export function renderPreview(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

export async function renderAutoresponders(root, {stores, allStores, route}) {
  root.dataset.testid = 'page-autoresponders';
  const [connectionList, saved] = await Promise.all([connections.list(), autoresponders.list()]);
  const inScope = new Set(stores.length ? stores : allStores);
  // (store, marketplace) → channels, from connections and saved settings.
  const choices = new Map();
  const add = (store, marketplace, channels) => {
    if (!inScope.has(store)) return;
    const key = `${store}\u0000${marketplace}`;
    const set = choices.get(key) || new Set();
    channels.forEach((c) => set.add(c));
    choices.set(key, set);
  };
  for (const c of connectionList.items) {
    add(c.store_id, c.marketplace, CHANNELS_BY_FAMILY[c.family] || ['messages']);
  }
  for (const a of saved.items) add(a.store_id, a.marketplace, [a.channel]);

  const storeSelect = h('select', {id: 'ar-store', testid: 'ar-store'},
    [...inScope].sort().map((s) => h('option', {value: s}, s)));
  const marketplaceSelect = h('select', {id: 'ar-marketplace', testid: 'ar-marketplace'});
  const channelSelect = h('select', {id: 'ar-channel', testid: 'ar-channel'});
  const editor = h('div', {class: 'ar-editor'});

  function fillMarketplaces() {
    const markets = [...choices.keys()].filter((k) => k.startsWith(`${storeSelect.value}\u0000`))
      .map((k) => k.split('\u0000')[1]).sort();
    replace(marketplaceSelect, markets.map((m) => h('option', {value: m}, m)));
    fillChannels();
  }
  function fillChannels() {
    const set = choices.get(`${storeSelect.value}\u0000${marketplaceSelect.value}`) || new Set();
    replace(channelSelect, [...set].sort().map((c) => h('option', {value: c}, c)));
  }
  storeSelect.addEventListener('change', fillMarketplaces);
  marketplaceSelect.addEventListener('change', fillChannels);

  const wanted = route.query;
  if (wanted.get('store')) storeSelect.value = wanted.get('store');
  fillMarketplaces();
  if (wanted.get('marketplace')) {
    marketplaceSelect.value = wanted.get('marketplace');
    fillChannels();
  }
  if (wanted.get('channel')) channelSelect.value = wanted.get('channel');

  const chooser = h('form', {class: 'card chooser', onsubmit: (e) => {
    e.preventDefault();
    load();
  }},
  field(t('ar.store'), storeSelect), field(t('ar.marketplace'), marketplaceSelect),
  field(t('ar.channel'), channelSelect),
  h('button', {type: 'submit', testid: 'ar-load'}, t('ar.load')));

  replace(root, h('h1', {}, t('ar.title')), h('p', {}, t('ar.intro')), chooser, editor);

  async function load() {
    const key = [storeSelect.value, marketplaceSelect.value, channelSelect.value];
    if (key.some((part) => !part)) {
      replace(editor, h('p', {}, t('ar.none')));
      root.dataset.ready = 'true';
      return;
    }
    drawEditor(key, await autoresponders.get(...key));
    root.dataset.ready = 'true';
  }

  function drawEditor(key, settings) {
    const input = (name, value, type = 'text') => h('input', {id: `ar-${name}`, testid: `ar-${name}`,
      type, value: value || ''});
    const enabled = h('input', {type: 'checkbox', id: 'ar-enabled', testid: 'ar-enabled', checked: settings.enabled});
    const template = h('textarea', {id: 'ar-template', testid: 'ar-template', rows: 8, value: settings.template});
    const language = input('language', settings.language);
    const senderName = input('sender-name', settings.sender_name);
    const shopName = input('shop-name', settings.shop_name);
    const notifyShop = input('notify-shop', settings.notify_shop_address, 'email');
    const notifyExtra = input('notify-extra', settings.notify_extra_address, 'email');
    const preview = h('div', {class: 'preview', testid: 'ar-preview', 'aria-live': 'polite'});
    const status = h('p', {testid: 'ar-saved', role: 'status'},
      settings.saved
        ? t('ar.savedAt', {when: settings.updated_at ? formatDate(settings.updated_at) : ''})
        : t('ar.defaults'));
    const result = h('p', {testid: 'ar-test-result', role: 'status'});
    const error = h('p', {class: 'error', role: 'alert', testid: 'ar-error', hidden: true});
    const drawPreview = () => {
      replace(preview, renderPreview(template.value, {...SAMPLES, marketplace: key[1],
        shop_name: shopName.value || settings.shop_name}));
    };
    template.addEventListener('input', drawPreview);
    shopName.addEventListener('input', drawPreview);
    const insert = (name) => {
      const start = template.selectionStart ?? template.value.length;
      const end = template.selectionEnd ?? start;
      template.setRangeText(`{${name}}`, start, end, 'end');
      template.focus();
      drawPreview();
    };
    const fail = (e) => {
      const details = e.problem && e.problem.errors ? e.problem.errors.map((x) => x.detail).join(' ') : '';
      error.textContent = `${e.message} ${details}`.trim();
      error.hidden = false;
    };
    const run = async (call) => {
      error.hidden = true;
      try {
        await call();
      } catch (e) {
        fail(e);
      }
    };
    const save = () => run(async () => {
      const saved = await autoresponders.put(...key, {
        enabled: enabled.checked, template: template.value, language: language.value || null,
        sender_name: senderName.value || null, shop_name: shopName.value || null,
        notify_shop_address: notifyShop.value || null, notify_extra_address: notifyExtra.value || null,
      });
      status.textContent = t('ar.savedAt', {when: saved.updated_at ? formatDate(saved.updated_at) : ''});
    });
    replace(editor, h('form', {class: 'card', 'aria-labelledby': 'ar-heading', onsubmit: (e) => {
      e.preventDefault();
      save();
    }},
    h('h2', {id: 'ar-heading'}, key.join(' · ')),
    h('div', {class: 'check'}, enabled, h('label', {for: 'ar-enabled'}, t('ar.enabled'))),
    field(t('ar.template'), template),
    h('div', {class: 'placeholders', testid: 'ar-placeholders', role: 'group', 'aria-label': t('ar.placeholders')},
      h('span', {}, `${t('ar.placeholders')}: `),
      Object.keys(SAMPLES).map((name) => h('button', {type: 'button', class: 'chip', testid: 'ar-placeholder',
        'data-placeholder': name, onclick: () => insert(name)}, `{${name}}`))),
    h('div', {class: 'filter-grid'},
      field(t('ar.language'), language), field(t('ar.senderName'), senderName),
      field(t('ar.shopName'), shopName), field(t('ar.notifyShop'), notifyShop),
      field(t('ar.notifyExtra'), notifyExtra)),
    h('h3', {}, t('ar.preview')), preview,
    error, status, result,
    h('div', {class: 'actions'},
      h('button', {type: 'submit', class: 'primary', testid: 'ar-save'}, t('common.save')),
      h('button', {type: 'button', testid: 'ar-test-send', onclick: () => run(async () => {
        const sent = await autoresponders.test(...key);
        result.textContent = t('ar.testSent', {to: sent.sent_to.join(', ')});
      })}, t('ar.testSend')),
      h('button', {type: 'button', testid: 'ar-restore', onclick: () => run(async () => {
        drawEditor(key, await autoresponders.restore(...key));
      })}, t('ar.restore')))));
    drawPreview();
  }

  await load();
  return () => {
    delete root.dataset.ready;
  };
}
