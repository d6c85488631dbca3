// One discussion: its messages in order (direction, sender, attachments, delivery state
// with retry), the order / entity panel, participants, and the reply box (recipients,
// files by picker or drag and drop, the order's invoice, reply / + solve / + pending).
// Opening it marks it read (the API's GET does); live events about it reload it.

import {discussions, uploadFile} from '../api.js';
import {field, h, replace, toast} from '../dom.js';
import {formatBytes, formatDate, t} from '../i18n.js';
import {discussionIdOf, onLiveEvent} from '../live.js';
import {navigate} from '../router.js';
import {STATUSES} from './inbox.js';
import {invoiceForm} from './invoice_form.js';

export async function renderDiscussion(root, {route}) {
  const id = route.path[1];
  root.dataset.testid = 'page-discussion';
  const state = {discussion: null, files: [], seen: new Set()};
  const live = h('div', {class: 'visually-hidden', 'aria-live': 'polite', testid: 'messages-live'});

  const header = h('div', {class: 'discussion-head'});
  const messages = h('ol', {class: 'messages', 'aria-label': t('discussion.messages')});
  const side = h('aside', {class: 'side', 'aria-label': t('discussion.details')});
  const replyBox = buildReplyBox();
  replace(root,
    h('p', {}, h('a', {href: '#/inbox', testid: 'back-to-list'}, `← ${t('discussion.back')}`)),
    header,
    h('div', {class: 'discussion-layout'},
      h('section', {class: 'thread', 'aria-label': t('discussion.messages')}, messages, replyBox.form),
      side),
    live);

  function drawHeader(d) {
    const status = h('select', {id: 'discussion-status', testid: 'discussion-status',
      onchange: (e) => act(() => discussions.patch(id, {status: e.target.value}), 'discussion.statusSaved')},
    STATUSES.map((s) => h('option', {value: s}, t(`status.${s}`))));
    status.value = d.status;
    replace(header,
      h('h1', {testid: 'discussion-subject'}, d.subject || t('discussion.noSubject')),
      h('div', {class: 'toolbar'},
        h('label', {for: 'discussion-status'}, t('discussion.status')), status,
        h('button', {type: 'button', testid: 'mark-unread', onclick: async () => {
          await act(() => discussions.patch(id, {read: false}), 'discussion.markedUnread', false);
          navigate('inbox');
        }}, t('discussion.markUnread')),
        h('button', {type: 'button', testid: 'resync', onclick: () => act(() => discussions.resync(id),
          'discussion.resyncQueued', false)}, t('discussion.resync'))));
  }

  function drawSide(d) {
    const tags = h('input', {id: 'tags-input', testid: 'tags-input', value: (d.tags || []).join(', ')});
    const ticket = h('input', {id: 'ticket-input', testid: 'ticket-input', value: d.merchant_ticket_id || ''});
    replace(side,
      h('section', {class: 'card', testid: 'order-panel', 'aria-labelledby': 'order-heading'},
        h('h2', {id: 'order-heading'}, t('discussion.order')),
        h('dl', {},
          h('dt', {}, t('discussion.orderId')), h('dd', {}, d.order_id || '—'),
          h('dt', {}, t('discussion.type')), h('dd', {}, t(`type.${d.type}`)),
          h('dt', {}, t('discussion.marketplace')), h('dd', {}, `${d.marketplace} (${d.channel})`),
          h('dt', {}, t('discussion.store')), h('dd', {}, d.store_id),
          h('dt', {}, t('discussion.lastSync')), h('dd', {}, d.last_synced_at ? formatDate(d.last_synced_at) : '—')),
        d.entities && d.entities.length ? h('ul', {class: 'entities'}, d.entities.map((e) =>
          h('li', {}, `${e.type}: ${e.id}${e.label ? ` — ${e.label}` : ''}`))) : null),
      h('section', {class: 'card', testid: 'participants', 'aria-labelledby': 'participants-heading'},
        h('h2', {id: 'participants-heading'}, t('discussion.participants')),
        h('ul', {}, (d.participants || []).map((p) => h('li', {},
          h('strong', {}, p.name || p.email || p.marketplace_id || '—'), ` (${t(`role.${p.role}`)})`,
          p.email && p.name ? h('br') : null, p.email && p.name ? p.email : null,
          p.organization && p.organization.name ? ` — ${p.organization.name}` : null)))),
      h('section', {class: 'card', 'aria-labelledby': 'workflow-heading'},
        h('h2', {id: 'workflow-heading'}, t('discussion.workflow')),
        // Each saved tag leads to the list of the discussions holding it.
        d.tags && d.tags.length ? h('ul', {class: 'tags', testid: 'discussion-tags', 'aria-label': t('discussion.tags')},
          d.tags.map((tag) => h('li', {}, h('a', {href: `#/inbox?${new URLSearchParams({tag})}`,
            class: 'chip tag', testid: 'discussion-tag', 'data-tag': tag,
            'aria-label': t('inbox.filterByTag', {tag})}, tag)))) : null,
        field(t('discussion.tags'), tags, t('discussion.tagsHint')),
        h('button', {type: 'button', testid: 'tags-save', onclick: () => act(() => discussions.patch(id,
          {tags: tags.value.split(',').map((s) => s.trim()).filter(Boolean)}), 'discussion.saved')},
        t('common.save')),
        field(t('discussion.ticket'), ticket),
        h('button', {type: 'button', testid: 'ticket-save', onclick: () => act(() => discussions.patch(id,
          {merchant_ticket_id: ticket.value.trim() || null}), 'discussion.saved')}, t('common.save'))));
  }

  function message(m) {
    const delivery = m.direction === 'outbound' && m.delivery ? m.delivery : null;
    return h('li', {class: `message ${m.direction}`, testid: 'message', 'data-direction': m.direction,
      'data-message-id': m.id},
    h('article', {'aria-label': t(`direction.${m.direction}`)},
      h('header', {},
        h('span', {testid: 'message-sender', class: 'sender'},
          m.sender ? (m.sender.name || m.sender.email || t(`role.${m.sender.role}`)) : '—',
          m.sender ? ` (${t(`role.${m.sender.role}`)})` : ''),
        h('span', {class: 'direction'}, t(`direction.${m.direction}`)),
        m.recipients && m.recipients.length
          ? h('span', {class: 'recipients'}, `→ ${m.recipients.map((r) => t(`role.${r}`)).join(', ')}`) : null,
        h('time', {datetime: m.sent_at, testid: 'message-time'}, formatDate(m.sent_at))),
      h('div', {class: 'body', testid: 'message-body'}, m.body),
      m.attachments && m.attachments.length ? h('ul', {class: 'attachments'}, m.attachments.map((a) => {
        const href = a.file_id ? discussions.attachmentUrl(id, a.file_id) : a.download_url;
        const label = `${a.name}${a.size ? ` (${formatBytes(a.size)})` : ''}`;
        return h('li', {}, href
          ? h('a', {href, download: a.name, testid: 'attachment-link'}, label)
          : h('span', {}, label));
      })) : null,
      delivery ? h('p', {class: `delivery delivery-${delivery.state}`},
        h('span', {testid: 'delivery-state', 'data-state': delivery.state},
          t(`delivery.${delivery.state}`)),
        delivery.error ? h('span', {class: 'delivery-error'}, ` — ${delivery.error}`) : null,
        delivery.state === 'failed' && m.command_id ? h('button', {type: 'button', testid: 'delivery-retry',
          onclick: () => act(() => discussions.retry(id, m.command_id), 'discussion.retryQueued')},
        t('discussion.retry')) : null) : null));
  }

  function buildReplyBox() {
    const body = h('textarea', {id: 'reply-body', testid: 'reply-body', rows: 6, required: true});
    const customer = h('input', {type: 'checkbox', id: 'recipient-customer', testid: 'recipient-customer', checked: true});
    const operator = h('input', {type: 'checkbox', id: 'recipient-operator', testid: 'recipient-operator'});
    const fileInput = h('input', {type: 'file', id: 'reply-files', testid: 'reply-files', multiple: true,
      onchange: (e) => {
        upload([...e.target.files]);
        e.target.value = '';
      }});
    const fileList = h('ul', {class: 'files', 'aria-label': t('reply.attached')});
    const invoiceOrder = invoiceForm(state.discussion);
    invoiceOrder.element.hidden = true;
    const invoice = h('input', {type: 'checkbox', id: 'attach-invoice', testid: 'attach-invoice',
      'aria-controls': 'invoice-form',
      onchange: (e) => {
        invoiceOrder.element.hidden = !e.target.checked;
      }});
    invoiceOrder.element.id = 'invoice-form';
    const error = h('p', {class: 'error', role: 'alert', testid: 'reply-error', hidden: true});
    const drop = h('div', {class: 'dropzone', testid: 'reply-dropzone',
      ondragover: (e) => {
        e.preventDefault();
        drop.classList.add('over');
      },
      ondragleave: () => drop.classList.remove('over'),
      ondrop: (e) => {
        e.preventDefault();
        drop.classList.remove('over');
        upload([...(e.dataTransfer ? e.dataTransfer.files : [])]);
      }},
    h('label', {for: 'reply-files'}, t('reply.files')), fileInput,
    h('small', {class: 'hint'}, t('reply.drop')), fileList);

    async function upload(files) {
      for (const file of files) {
        try {
          const stored = await uploadFile(state.discussion.store_id, file);
          state.files.push(stored);
        } catch (e) {
          toast(`${file.name}: ${e.message}`);
        }
      }
      drawFiles();
    }

    function drawFiles() {
      replace(fileList, state.files.map((f, i) => h('li', {testid: 'reply-file'},
        `${f.name} (${formatBytes(f.size)}) `,
        h('button', {type: 'button', class: 'link', testid: 'reply-file-remove',
          'aria-label': t('reply.remove', {name: f.name}),
          onclick: () => {
            state.files.splice(i, 1);
            drawFiles();
          }}, '×'))));
    }

    async function send(action) {
      error.hidden = true;
      const request = {body: body.value, action,
        recipients: [customer.checked && 'customer', operator.checked && 'operator'].filter(Boolean),
        attachment_ids: state.files.map((f) => f.id)};
      if (!request.recipients.length) delete request.recipients;
      if (invoice.checked) {
        request.attach_invoice = invoiceOrder.value();
        if (!request.attach_invoice) return; // the form shows what is missing
      }
      try {
        await discussions.reply(id, request);
        body.value = '';
        state.files = [];
        invoice.checked = false;
        invoiceOrder.element.hidden = true;
        invoiceOrder.reset(state.discussion);
        drawFiles();
        toast(t('reply.queued'));
        await load();
      } catch (e) {
        const details = e.problem && e.problem.errors ? e.problem.errors.map((x) => x.detail).join(' ') : '';
        error.textContent = `${e.message} ${details}`.trim();
        error.hidden = false;
      }
    }

    const form = h('form', {class: 'card reply', 'aria-labelledby': 'reply-heading',
      onsubmit: (e) => {
        e.preventDefault();
        send(e.submitter && e.submitter.value ? e.submitter.value : 'reply');
      }},
    h('h2', {id: 'reply-heading'}, t('reply.title')),
    field(t('reply.body'), body),
    h('fieldset', {}, h('legend', {}, t('reply.recipients')),
      h('span', {class: 'check'}, customer, h('label', {for: 'recipient-customer'}, t('role.customer'))),
      h('span', {class: 'check'}, operator, h('label', {for: 'recipient-operator'}, t('role.operator')))),
    drop,
    h('div', {class: 'check'}, invoice, h('label', {for: 'attach-invoice'}, t('reply.attachInvoice'))),
    invoiceOrder.element,
    error,
    h('div', {class: 'actions'},
      h('button', {type: 'submit', class: 'primary', value: 'reply', testid: 'send-reply'}, t('reply.send')),
      h('button', {type: 'submit', value: 'reply_and_solve', testid: 'send-reply-solve'}, t('reply.sendSolve')),
      h('button', {type: 'submit', value: 'reply_and_pending', testid: 'send-reply-pending'}, t('reply.sendPending'))));
    return {form, body, invoice, invoiceOrder};
  }

  async function act(call, doneKey, reload = true) {
    try {
      await call();
      toast(t(doneKey));
      if (reload) await load();
    } catch (e) {
      toast(`${t('common.error')}: ${e.message}`);
    }
  }

  async function load() {
    const d = await discussions.get(id);
    const fresh = d.messages.filter((m) => !state.seen.has(m.id));
    if (state.discussion && fresh.length) {
      live.textContent = fresh.map((m) => t('discussion.newMessage', {
        sender: m.sender ? (m.sender.name || t(`role.${m.sender.role}`)) : '', body: m.body.slice(0, 140)})).join(' ');
    }
    d.messages.forEach((m) => state.seen.add(m.id));
    const first = !state.discussion;
    state.discussion = d;
    // Prefilled from the discussion once it is known; never under an agent's typing.
    if (first || replyBox.invoiceOrder.element.hidden) replyBox.invoiceOrder.reset(d);
    drawHeader(d);
    drawSide(d);
    replace(messages, d.messages.map(message));
    root.dataset.ready = 'true';
  }

  function onKey(e) {
    if (e.target.closest('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'r') replyBox.body.focus();
    else if (e.key === 'e') act(() => discussions.patch(id, {status: 'solved'}), 'discussion.statusSaved');
    else if (e.key === 'u') navigate('inbox');
    else return;
    e.preventDefault();
  }

  let timer = null;
  const unsubscribe = onLiveEvent((type, event) => {
    if (type === 'com.parley.discussion.read_changed.v1') return; // our own GET marks it read
    if (type !== 'reset' && discussionIdOf(event) !== id) return;
    clearTimeout(timer);
    timer = setTimeout(() => load().catch(() => {}), 150);
  });
  document.addEventListener('keydown', onKey);
  await load();
  if (route.query.get('reply')) replyBox.body.focus();
  return () => {
    unsubscribe();
    clearTimeout(timer);
    document.removeEventListener('keydown', onKey);
    delete root.dataset.ready;
  };
}
