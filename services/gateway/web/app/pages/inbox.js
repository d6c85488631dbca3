// The discussion list: status tabs with counts, every filter of GET /discussions, the
// store switcher's scope, bulk status, j/k/r/e keys, and live refresh on any event.

import {discussions} from '../api.js';
import {h, replace, toast} from '../dom.js';
import {formatDate, formatNumber, formatRelative, t} from '../i18n.js';
import {discussionIdOf, onLiveEvent} from '../live.js';
import {navigate, reflect} from '../router.js';

export const STATUSES = ['new', 'open', 'pending', 'solved', 'closed'];
const PAGE_SIZE = 25;
const FILTER_KEYS = ['marketplace', 'read', 'type', 'order_id', 'entity_id', 'tag', 'participant',
  'subject', 'since', 'until', 'due'];

/** The words of a comma-separated filter field, trimmed, empty ones dropped. */
const words = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

/** The API query of the route's filters (status apart) in the chosen stores. "Reply due
 * soon" lists replies due before the cutoff the gateway's counts returned
 * (`at_risk_before`: now plus its configured window), so the list, the at-risk count and
 * the highlighted rows agree. */
function filterQuery(state, stores, allStores) {
  const q = state.query;
  const get = (k) => (q.get(k) || '').trim();
  const query = {
    store_id: stores.length === allStores.length ? undefined : stores,
    marketplace: get('marketplace') ? words(get('marketplace')) : undefined,
    read: get('read') || undefined,
    type: get('type') || undefined,
    order_id: get('order_id') || undefined,
    entity_id: get('entity_id') || undefined,
    // Several tags narrow down: the API lists discussions holding all of them.
    tag: get('tag') ? words(get('tag')) : undefined,
    participant: get('participant') || undefined,
    subject: get('subject') || undefined,
    since: get('since') ? new Date(`${get('since')}T00:00:00`).toISOString() : undefined,
    until: get('until') ? new Date(`${get('until')}T23:59:59.999`).toISOString() : undefined,
  };
  if (get('due') && state.atRiskBefore) query.reply_due_before = state.atRiskBefore;
  return query;
}

export async function renderInbox(root, {route, stores, allStores}) {
  const state = {query: new URLSearchParams(route.query), items: [], cursor: null, focus: 0,
    selected: new Set(), atRiskBefore: null};
  root.dataset.testid = 'page-inbox';

  const tabs = h('div', {class: 'tabs', role: 'tablist', 'aria-label': t('inbox.statuses')});
  const atRisk = h('button', {type: 'button', class: 'at-risk', testid: 'at-risk-count',
    onclick: () => {
      if (state.query.get('due')) state.query.delete('due');
      else state.query.set('due', '1');
      reload();
    }});
  const list = h('ul', {class: 'rows', testid: 'discussion-list', 'aria-label': t('inbox.title')});
  const more = h('button', {type: 'button', testid: 'load-more', hidden: true,
    onclick: () => loadPage(false)}, t('inbox.loadMore'));
  const selectAll = h('input', {type: 'checkbox', id: 'select-all', testid: 'select-all',
    onchange: (e) => {
      state.selected = e.target.checked ? new Set(state.items.map((d) => d.id)) : new Set();
      drawRows();
    }});
  const bulkStatus = h('select', {id: 'bulk-status', testid: 'bulk-status'},
    STATUSES.map((s) => h('option', {value: s}, t(`status.${s}`))));
  const bulkResult = h('span', {testid: 'bulk-result', role: 'status'});
  const bulkApply = h('button', {type: 'button', testid: 'bulk-apply', onclick: applyBulk},
    t('inbox.bulkApply'));
  const filters = filterForm();

  replace(root,
    h('h1', {}, t('inbox.title')),
    filters,
    h('div', {class: 'tabbar'}, tabs, atRisk),
    h('div', {class: 'bulk', role: 'group', 'aria-label': t('inbox.bulk')},
      selectAll, h('label', {for: 'select-all'}, t('inbox.selectAll')),
      h('label', {for: 'bulk-status'}, t('inbox.setStatus')), bulkStatus, bulkApply, bulkResult),
    list, more,
    h('p', {class: 'hint keys'}, t('inbox.keys')));

  function filterForm() {
    const q = state.query;
    const input = (key, type = 'text', extra = {}) => h('input', {id: `filter-${key}`,
      name: key, type, testid: `filter-${key.replace('_', '-')}`, value: q.get(key) || '', ...extra});
    const select = (key, options) => {
      const el = h('select', {id: `filter-${key}`, name: key, testid: `filter-${key}`},
        options.map(([value, label]) => h('option', {value}, label)));
      el.value = q.get(key) || '';
      return el;
    };
    const label = (key, text) => h('label', {for: `filter-${key}`}, text);
    const due = h('input', {type: 'checkbox', id: 'filter-due', name: 'due', testid: 'filter-reply-due',
      checked: Boolean(q.get('due'))});
    const form = h('form', {class: 'filters', testid: 'filters', role: 'search',
      'aria-label': t('filters.title'),
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(form);
        const status = state.query.get('status');
        state.query = new URLSearchParams();
        if (status) state.query.set('status', status);
        for (const key of FILTER_KEYS) {
          const value = key === 'due' ? (due.checked ? '1' : '') : String(data.get(key) || '').trim();
          if (value) state.query.set(key, value);
        }
        reload();
      },
      onchange: (e) => {
        if (e.target.tagName === 'SELECT' || e.target.type === 'checkbox' || e.target.type === 'date') {
          form.requestSubmit();
        }
      }},
    h('div', {class: 'filter-grid'},
      h('div', {class: 'field'}, label('marketplace', t('filters.marketplace')), input('marketplace', 'text', {placeholder: 'carrefour, allegro'})),
      h('div', {class: 'field'}, label('read', t('filters.read')), select('read', [['', t('filters.any')], ['false', t('filters.unread')], ['true', t('filters.readOnly')]])),
      h('div', {class: 'field'}, label('type', t('filters.type')), select('type', [['', t('filters.any')], ['product', t('type.product')], ['order', t('type.order')], ['other', t('type.other')]])),
      h('div', {class: 'field'}, label('order_id', t('filters.orderId')), input('order_id')),
      h('div', {class: 'field'}, label('entity_id', t('filters.entityId')), input('entity_id')),
      h('div', {class: 'field'}, label('tag', t('filters.tag')), input('tag', 'text', {placeholder: 'late-delivery'})),
      h('div', {class: 'field'}, label('participant', t('filters.participant')), input('participant')),
      h('div', {class: 'field'}, label('subject', t('filters.subject')), input('subject')),
      h('div', {class: 'field'}, label('since', t('filters.since')), input('since', 'date')),
      h('div', {class: 'field'}, label('until', t('filters.until')), input('until', 'date')),
      h('div', {class: 'field check'}, due, h('label', {for: 'filter-due'}, t('filters.replyDue')))),
    h('div', {class: 'actions'},
      h('button', {type: 'submit', class: 'primary', testid: 'filter-apply'}, t('filters.apply')),
      h('button', {type: 'button', testid: 'filter-reset', onclick: () => {
        state.query = new URLSearchParams();
        navigate('inbox');
      }}, t('filters.reset'))));
    return form;
  }

  function drawTabs(counts) {
    const current = state.query.get('status') || 'all';
    const total = counts ? STATUSES.reduce((sum, s) => sum + (counts[s] || 0), 0) : null;
    replace(tabs, ['all', ...STATUSES].map((status) => {
      const count = status === 'all' ? total : counts && counts[status];
      return h('button', {type: 'button', role: 'tab', testid: `status-tab-${status}`,
        'aria-selected': String(current === status), class: current === status ? 'tab current' : 'tab',
        onclick: () => {
          if (status === 'all') state.query.delete('status');
          else state.query.set('status', status);
          reload();
        }},
      t(`status.${status}`), ' ',
      h('span', {class: 'count', testid: `status-count-${status}`},
        count === null || count === undefined ? '' : formatNumber(count)));
    }));
    const risky = counts ? counts.at_risk || 0 : 0;
    replace(atRisk, t('inbox.atRisk', {count: formatNumber(risky)}));
    atRisk.setAttribute('aria-pressed', String(Boolean(state.query.get('due'))));
    atRisk.classList.toggle('alert', risky > 0);
  }

  function row(d, index) {
    const checked = state.selected.has(d.id);
    const participant = (d.participants || []).find((p) => p.role !== 'merchant');
    const due = d.reply_expected && d.reply_due_at;
    const overdue = Boolean(due && state.atRiskBefore && new Date(d.reply_due_at) < new Date(state.atRiskBefore));
    const checkboxId = `row-select-${index}`;
    return h('li', {class: `row ${d.read ? 'read' : 'unread'}${index === state.focus ? ' focused' : ''}`,
      testid: 'discussion-row', 'data-discussion-id': d.id, 'data-status': d.status,
      'data-read': String(d.read)},
    h('input', {type: 'checkbox', id: checkboxId, testid: 'row-select', checked,
      'aria-label': t('inbox.select', {subject: d.subject || d.thread_id}),
      onchange: (e) => {
        if (e.target.checked) state.selected.add(d.id);
        else state.selected.delete(d.id);
      }}),
    h('div', {class: 'row-main'},
      h('a', {href: `#/discussions/${encodeURIComponent(d.id)}`, testid: 'row-link', class: 'subject',
        onfocus: () => {
          state.focus = index;
        }},
      d.read ? null : h('span', {class: 'badge unread', testid: 'row-unread'}, t('inbox.unread')),
      d.subject || t('discussion.noSubject')),
      h('span', {class: 'preview'}, d.last_message_preview || ''),
      d.tags && d.tags.length ? h('ul', {class: 'tags', testid: 'row-tags', 'aria-label': t('inbox.tags')},
        d.tags.map((tag) => h('li', {}, h('button', {type: 'button', class: 'chip tag', testid: 'row-tag',
          'data-tag': tag, 'aria-label': t('inbox.filterByTag', {tag}), onclick: () => filterByTag(tag)},
        tag)))) : null),
    h('div', {class: 'row-meta'},
      h('span', {class: `status status-${d.status}`, testid: 'row-status'}, t(`status.${d.status}`)),
      h('span', {class: 'market'}, `${d.marketplace} · ${d.store_id}`),
      participant ? h('span', {}, participant.name || participant.email || '') : null,
      d.last_message_at ? h('time', {datetime: d.last_message_at}, formatDate(d.last_message_at)) : null,
      due ? h('span', {class: overdue ? 'due at-risk-due' : 'due', testid: 'row-due',
        'data-at-risk': String(overdue)},
        t('inbox.replyDue', {when: formatRelative(d.reply_due_at)})) : null));
  }

  /** A row's tag chip: the list narrowed to that tag, the other filters kept. */
  function filterByTag(tag) {
    state.query.set('tag', tag);
    filters.elements.namedItem('tag').value = tag;
    reload();
  }

  function drawRows() {
    replace(list, state.items.length
      ? state.items.map(row)
      : h('li', {class: 'empty', testid: 'list-empty'}, t('inbox.empty')));
    selectAll.checked = state.items.length > 0 && state.items.every((d) => state.selected.has(d.id));
    more.hidden = !state.cursor;
  }

  async function loadPage(first, keep = 0) {
    if (first && state.query.get('due') && !state.atRiskBefore) {
      // The window is the gateway's: learn its cutoff before listing what falls in it.
      state.atRiskBefore = (await discussions.counts(filterQuery(state, stores, allStores))).at_risk_before;
    }
    const base = filterQuery(state, stores, allStores);
    const status = state.query.get('status');
    const query = {...base, status: status || undefined,
      limit: Math.min(100, Math.max(PAGE_SIZE, keep)), cursor: first ? undefined : state.cursor};
    const [page, counts] = await Promise.all([
      discussions.list(query),
      first ? discussions.counts(base) : Promise.resolve(null),
    ]);
    state.items = first ? page.items : state.items.concat(page.items);
    state.cursor = page.next_cursor;
    if (counts) {
      state.atRiskBefore = counts.at_risk_before || null;
      drawTabs(counts);
    }
    drawRows();
  }

  async function reload() {
    reflect('inbox', state.query);
    state.selected = new Set();
    state.focus = 0;
    await loadPage(true);
    root.dataset.ready = 'true';
  }

  async function applyBulk() {
    const ids = [...state.selected];
    if (!ids.length) {
      toast(t('inbox.nothingSelected'));
      return;
    }
    try {
      const result = await discussions.bulkStatus(ids, bulkStatus.value);
      bulkResult.textContent = t('inbox.bulkDone', {count: formatNumber(result.updated),
        status: t(`status.${result.status}`)});
      state.selected = new Set();
      await loadPage(true, state.items.length);
    } catch (e) {
      bulkResult.textContent = e.message;
    }
  }

  function focusRow(index) {
    if (!state.items.length) return;
    state.focus = Math.max(0, Math.min(state.items.length - 1, index));
    const rows = list.querySelectorAll('[data-testid="discussion-row"]');
    rows.forEach((el, i) => el.classList.toggle('focused', i === state.focus));
    rows[state.focus].querySelector('[data-testid="row-link"]').focus();
  }

  async function onKey(e) {
    if (e.target.closest('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return;
    const d = state.items[state.focus];
    if (e.key === 'j') focusRow(state.focus + 1);
    else if (e.key === 'k') focusRow(state.focus - 1);
    else if ((e.key === 'o') && d) navigate(`discussions/${encodeURIComponent(d.id)}`);
    else if (e.key === 'r' && d) navigate(`discussions/${encodeURIComponent(d.id)}`, {reply: '1'});
    else if (e.key === 'e' && d) {
      await discussions.patch(d.id, {status: 'solved'});
      toast(t('inbox.solved', {subject: d.subject || d.thread_id}));
      await loadPage(true, state.items.length);
      focusRow(state.focus);
    } else return;
    e.preventDefault();
  }

  let timer = null;
  const unsubscribe = onLiveEvent((type, event) => {
    if (type !== 'reset' && !discussionIdOf(event)) return;
    clearTimeout(timer);
    timer = setTimeout(() => loadPage(true, state.items.length).catch(() => {}), 150);
  });
  document.addEventListener('keydown', onKey);
  await reload();
  return () => {
    unsubscribe();
    clearTimeout(timer);
    document.removeEventListener('keydown', onKey);
    delete root.dataset.ready;
  };
}
