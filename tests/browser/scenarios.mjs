// The browser scenarios of the web inbox (issue 15's "Done when"), one function each,
// run one per process by run.mjs. Each gets a Session (run.mjs: page, tid(), check())
// and the context the pytest side made (tests/e2e/test_browser_inbox.py): the gateway's
// URL, an API key of the account owning one seeded store, the sandbox's URL and the
// Mirakl instance and threads of that store, by scenario name (ctx.subjects,
// ctx.threads). Every scenario changes only the threads seeded for it, so they can run
// in any order.
//
// The test ids are the inbox's contract, services/gateway/web/TESTING.md. Waits are on
// selectors and conditions with timeouts, never sleeps.
import { createHash } from 'node:crypto';

// Delivery through the responder and a marketplace sync round take longer than a click.
const PIPELINE_MS = 45_000;

/** The session cookie for ctx.api_key, through the API (the sign-in page has its own
 * scenario): the cookie lands in the browser context the page uses. */
async function signIn(s) {
  const answer = await s.page.request.post(s.url('/session'), {
    data: { api_key: s.ctx.api_key },
    headers: { 'X-Requested-With': 'parley-inbox' },
  });
  if (!answer.ok()) throw new Error(`POST /session: ${answer.status()} ${await answer.text()}`);
}

/** Waits until the page `name` has loaded its data (TESTING.md: data-ready). */
async function ready(s, name, timeout) {
  await s.page.locator(`[data-testid="page-${name}"][data-ready="true"]`).waitFor({ timeout });
}

async function openInbox(s) {
  await s.page.goto(s.url('/#/inbox'));
  await ready(s, 'inbox');
}

/** The list row of the seeded thread `name` (found by its subject). */
function row(s, name) {
  return s.tid('discussion-row').filter({ hasText: s.ctx.subjects[name] });
}

/** Waits until `predicate` (run in the page with `arg`) holds. */
async function until(s, predicate, arg, timeout) {
  await s.page.waitForFunction(predicate, arg, { timeout: timeout || s.ctx.timeout_ms });
}

/** Polls an async condition outside the page (the sandbox's records) until it holds. */
async function eventually(what, condition, timeout = PIPELINE_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function sandboxJson(s, path, init) {
  const answer = await fetch(new URL(path, s.ctx.sandbox_url), init);
  if (!answer.ok) throw new Error(`sandbox ${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** A buyer writes on the sandbox marketplace: in `threadId`, or in a new thread. */
async function buyerWrites(s, body, { threadId, topic } = {}) {
  const payload = threadId
    ? { body, sender: 'CUSTOMER', thread_id: threadId }
    : { body, sender: 'CUSTOMER', customer_name: 'Camille Martin', topic };
  return sandboxJson(s, `/_sandbox/mirakl/${s.ctx.instance}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
}

/** Sets a form field whatever the control is (select or text input). */
async function setField(locator, value) {
  const tag = await locator.evaluate((el) => el.tagName.toLowerCase());
  if (tag === 'select') await locator.selectOption(value);
  else await locator.fill(value);
}

// ---------------------------------------------------------------- scenarios

/** A page of the gateway renders (ctx.smoke_path, default the inbox's `/`): the
 * harness's own check, also run against a planted axe violation. */
async function smoke(s) {
  const path = s.ctx.smoke_path || '/';
  s.step(`open ${path}`);
  const response = await s.page.goto(s.url(path));
  if (!response || !response.ok()) throw new Error(`GET ${path}: ${response && response.status()}`);
  await s.page.waitForLoadState('load');
  await s.check('smoke');
}

/** Sign in with the API key: a wrong key is refused on the page, the right one opens
 * the inbox listing the seeded store, with an HttpOnly session cookie. */
async function sign_in(s) {
  s.step('open / signed out');
  await s.page.goto(s.url('/'));
  await ready(s, 'sign-in');
  await s.check('sign-in');

  s.step('wrong key');
  await s.tid('signin-key').fill('prl_000000000000_not-a-key-of-anyone');
  await s.tid('signin-submit').click();
  await s.tid('signin-error').waitFor();
  await s.check('sign-in-error');

  s.step('right key');
  await s.tid('signin-key').fill(s.ctx.api_key);
  await s.tid('signin-submit').click();
  await ready(s, 'inbox');
  const seeded = Object.keys(s.ctx.subjects).length;
  await until(s, (n) => document.querySelectorAll('[data-testid="discussion-row"]').length >= n, seeded);
  const cookies = await s.page.context().cookies();
  const session = cookies.find((c) => c.name === 'parley_session');
  if (!session) throw new Error(`no parley_session cookie after sign-in: ${cookies.map((c) => c.name)}`);
  if (!session.httpOnly) throw new Error('the session cookie is readable by scripts (not HttpOnly)');
  const stored = await s.page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
  if (stored.includes(s.ctx.api_key.slice(-16))) throw new Error('the API key is kept in web storage');
  await s.check('inbox');

  s.step('sign out');
  await s.tid('signout').click();
  await ready(s, 'sign-in');
}

/** Filters narrow the list (and show in the URL); unread and status tabs too. */
async function filter(s) {
  await signIn(s);
  await openInbox(s);
  const subject = s.ctx.subjects.filter;

  s.step('filter on subject');
  await s.tid('filter-subject').fill(subject);
  await s.tid('filter-apply').click();
  await until(
    s,
    (text) => {
      const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
      return rows.length === 1 && rows[0].textContent.includes(text);
    },
    subject,
  );
  const hash = await s.page.evaluate(() => decodeURIComponent(window.location.hash));
  if (!hash.includes('subject')) throw new Error(`the subject filter is not in the URL: ${hash}`);
  await s.check('inbox-filtered');

  s.step('reset, then unread only');
  await s.tid('filter-reset').click();
  await until(s, () => document.querySelectorAll('[data-testid="discussion-row"]').length > 1);
  await setField(s.tid('filter-read'), 'false');
  await s.tid('filter-apply').click();
  await until(s, () => {
    const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
    return rows.length > 0 && rows.every((r) => r.dataset.read === 'false');
  });

  s.step('subject and status tabs together: new lists it, solved does not');
  await s.tid('filter-reset').click();
  await s.tid('filter-subject').fill(subject);
  await s.tid('filter-apply').click();
  await s.tid('status-tab-new').click();
  await s.page.locator('[data-testid="status-tab-new"][aria-selected="true"]').waitFor();
  await until(s, () => document.querySelectorAll('[data-testid="discussion-row"]').length === 1);
  await s.tid('status-tab-solved').click();
  await s.page.locator('[data-testid="status-tab-solved"][aria-selected="true"]').waitFor();
  await s.tid('list-empty').waitFor();
  await s.check('inbox-solved-tab');
}

/** Opening an unread discussion shows its messages and order, and turns it read. */
async function open_read(s) {
  await signIn(s);
  await openInbox(s);
  const line = row(s, 'read');
  s.step('the row is unread');
  await line.and(s.page.locator('[data-read="false"]')).waitFor();
  await line.getByTestId('row-unread').waitFor();

  s.step('open it');
  await line.getByTestId('row-link').click();
  await ready(s, 'discussion');
  await s.tid('discussion-subject').filter({ hasText: s.ctx.subjects.read }).waitFor();
  await s.page
    .locator('[data-testid="message"][data-direction="inbound"]')
    .filter({ hasText: 'garantie' })
    .waitFor();
  await s.tid('message-sender').first().waitFor();
  await s.tid('order-panel').filter({ hasText: '-read' }).waitFor();
  await s.tid('participants').waitFor();
  await s.check('discussion');

  s.step('back to the list: now read');
  await s.tid('back-to-list').click();
  await ready(s, 'inbox');
  await row(s, 'read').and(s.page.locator('[data-read="true"]')).waitFor();
  if (await row(s, 'read').getByTestId('row-unread').count()) {
    throw new Error('the unread badge is still shown on a read discussion');
  }

  s.step('mark it unread again from its page');
  await row(s, 'read').getByTestId('row-link').click();
  await ready(s, 'discussion');
  await s.tid('mark-unread').click();
  await ready(s, 'inbox');
  await row(s, 'read').and(s.page.locator('[data-read="false"]')).waitFor();
  await row(s, 'read').getByTestId('row-unread').waitFor();
}

/** A reply with a file attached: the delivery state turns sent without a reload, and
 * the marketplace received the very bytes. */
async function reply_with_file(s) {
  await signIn(s);
  await openInbox(s);
  await row(s, 'reply').getByTestId('row-link').click();
  await ready(s, 'discussion');

  const body = `Votre facture est jointe (${Date.now()}).`;
  const pdf = Buffer.from(`%PDF-1.4\n% parley browser test\n${'x'.repeat(2048)}\n%%EOF\n`);
  s.step('write and attach');
  await s.tid('reply-body').fill(body);
  await s.tid('reply-files').setInputFiles({ name: 'facture.pdf', mimeType: 'application/pdf', buffer: pdf });
  await s.tid('reply-file').filter({ hasText: 'facture.pdf' }).waitFor();
  await s.check('discussion-reply-draft');

  s.step('send');
  await s.tid('send-reply').click();
  const sent = s.page.locator('[data-testid="message"][data-direction="outbound"]').filter({ hasText: body });
  await sent.waitFor();
  s.step('delivery turns sent');
  await sent.locator('[data-testid="delivery-state"][data-state="sent"]').waitFor({ timeout: PIPELINE_MS });
  await sent.getByTestId('attachment-link').filter({ hasText: 'facture.pdf' }).waitFor();
  await s.check('discussion-replied');

  s.step('the marketplace received the file');
  const digest = createHash('sha256').update(pdf).digest('hex');
  const path = `/_sandbox/mirakl/${s.ctx.instance}/replies?thread_id=${encodeURIComponent(s.ctx.threads.reply)}`;
  const received = await sandboxJson(s, path);
  const reply = received.replies.find((r) => r.body.includes(body));
  if (!reply) throw new Error(`the sandbox has no reply with the body sent: ${JSON.stringify(received)}`);
  if (!reply.attachments.some((a) => a.name === 'facture.pdf' && a.sha256 === digest)) {
    throw new Error(`the reply reached the marketplace without the file: ${JSON.stringify(reply.attachments)}`);
  }
}

/** Listens, in the page, to the gateway's event stream on a connection of its own, and
 * notes when the first event of `type` arrives after `arm()`: the clock the inbox's
 * "within 1 s of the event" is measured against. */
async function openProbe(s, type) {
  await s.page.evaluate(
    (eventType) =>
      new Promise((resolve, reject) => {
        const probe = { armed: Infinity, at: null, source: new EventSource('/events/stream') };
        probe.source.addEventListener(eventType, () => {
          const now = performance.now();
          if (probe.at === null && now >= probe.armed) probe.at = now;
        });
        probe.source.onopen = () => resolve();
        setTimeout(() => reject(new Error('the probe stream did not open')), 10000);
        window.parleyProbe = probe;
      }),
    type,
  );
  return {
    arm: () =>
      s.page.evaluate(() => {
        window.parleyProbe.armed = performance.now();
        window.parleyProbe.at = null;
      }),
    /** Milliseconds from the event to `shownAt` (page clock). */
    lag: async (shownAt) => {
      const at = await s.page.evaluate(() => window.parleyProbe.at);
      if (at === null) throw new Error(`shown, but no ${type} event came first`);
      return shownAt - at;
    },
    close: () => s.page.evaluate(() => window.parleyProbe.source.close()),
  };
}

/** Waits until an element matching `selector` with `text` is in the page; answers when
 * (page clock, checked every animation frame). */
async function shownAt(s, selector, text) {
  const handle = await s.page.waitForFunction(
    ([sel, txt]) =>
      [...document.querySelectorAll(sel)].some((el) => el.textContent.includes(txt)) && performance.now(),
    [selector, text],
    { timeout: PIPELINE_MS },
  );
  return handle.jsonValue();
}

// The bound: the list and the open discussion update within 1 s of the event.
const LIVE_LAG_MS = 1000;

/** A buyer's new thread appears in the open list, and a buyer's new message in the open
 * discussion, without a reload (server-sent events), each within 1 s of its event. */
async function live(s) {
  await signIn(s);
  await openInbox(s);
  await s.page.locator('[data-testid="live-status"][data-state="live"]').waitFor();

  const topic = `Nouvelle question ${Date.now()}`;
  s.step('a buyer opens a thread');
  let probe = await openProbe(s, 'com.parley.discussion.created.v1');
  await probe.arm();
  let started = Date.now();
  await buyerWrites(s, 'Bonjour, une nouvelle question.', { topic });
  let lag = await probe.lag(await shownAt(s, '[data-testid="discussion-row"]', topic));
  s.step(`new row shown ${(Date.now() - started) / 1000} s after the buyer wrote, ${Math.round(lag)} ms after its event`);
  if (lag > LIVE_LAG_MS) throw new Error(`the new thread showed ${Math.round(lag)} ms after its event`);
  await probe.close();
  await s.check('inbox-live');

  await row(s, 'live').getByTestId('row-link').click();
  await ready(s, 'discussion');
  await s.page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
  const body = `Toujours rien reçu (${Date.now()}).`;
  s.step('the buyer writes again in the open discussion');
  probe = await openProbe(s, 'com.parley.message.received.v1');
  await probe.arm();
  started = Date.now();
  await buyerWrites(s, body, { threadId: s.ctx.threads.live });
  const selector = '[data-testid="message"][data-direction="inbound"]';
  lag = await probe.lag(await shownAt(s, selector, body));
  s.step(`new message shown ${(Date.now() - started) / 1000} s after the buyer wrote, ${Math.round(lag)} ms after its event`);
  if (lag > LIVE_LAG_MS) throw new Error(`the new message showed ${Math.round(lag)} ms after its event`);
  await probe.close();
  await s.tid('messages-live').filter({ hasText: body.slice(0, 12) }).waitFor();
  await s.check('discussion-live');
}

/** Two discussions selected in the list, set to pending at once. */
async function bulk_status(s) {
  await signIn(s);
  await openInbox(s);
  s.step('select two');
  await row(s, 'bulk_a').getByTestId('row-select').check();
  await row(s, 'bulk_b').getByTestId('row-select').check();
  await setField(s.tid('bulk-status'), 'pending');
  s.step('apply pending');
  await s.tid('bulk-apply').click();
  await s.tid('bulk-result').waitFor();
  await s.check('inbox-bulk');

  s.step('both pending, in the pending tab too');
  await s.tid('status-tab-pending').click();
  await s.page.locator('[data-testid="status-tab-pending"][aria-selected="true"]').waitFor();
  for (const name of ['bulk_a', 'bulk_b']) {
    await row(s, name).and(s.page.locator('[data-status="pending"]')).waitFor();
  }
  const pending = await s.tid('status-count-pending').innerText();
  if (!(Number.parseInt(pending.replace(/\D/g, ''), 10) >= 2)) {
    throw new Error(`the pending tab counts ${JSON.stringify(pending)}, not at least 2`);
  }
  const others = await s.page
    .locator('[data-testid="discussion-row"]:not([data-status="pending"])')
    .count();
  if (others) throw new Error(`the pending tab lists ${others} discussions of another status`);
}

/** Edit an autoresponder (template with a placeholder, live preview), save it, find it
 * saved after a reload, send a test mail (it reaches the shop's address), restore the
 * default. */
async function autoresponder(s) {
  await signIn(s);
  const shop = `shop-${s.ctx.instance}@example.com`;
  const load = async () => {
    await s.page.goto(s.url('/#/autoresponders'));
    await ready(s, 'autoresponders');
    await setField(s.tid('ar-store'), s.ctx.store_id);
    await setField(s.tid('ar-marketplace'), s.ctx.marketplace);
    await setField(s.tid('ar-channel'), 'messages');
    // The page opens on a default choice and draws its editor; the one to edit is the
    // editor drawn after "load": the old one is marked so the wait cannot take it.
    await s.page
      .locator('[data-testid="ar-template"]')
      .evaluateAll((found) => found.forEach((el) => el.setAttribute('data-stale', '')));
    await s.tid('ar-load').click();
    await s.page.locator('[data-testid="ar-template"]:not([data-stale])').waitFor();
  };
  s.step('load store × marketplace × messages');
  await load();
  const template = 'Bonjour {buyer_name}, merci pour votre message. {shop_name}';
  await s.tid('ar-template').fill(template);
  await s.tid('ar-shop-name').fill('Boutique Navigateur');
  await s.tid('ar-notify-shop').fill(shop);
  s.step('preview follows the template');
  await s.tid('ar-preview').filter({ hasText: 'Boutique Navigateur' }).waitFor();
  const preview = await s.tid('ar-preview').innerText();
  if (preview.includes('{buyer_name}')) throw new Error(`the preview left a placeholder: ${preview}`);
  await s.check('autoresponders');

  s.step('save');
  await s.tid('ar-save').click();
  await s.tid('ar-saved').waitFor();
  s.step('saved after a reload');
  await s.page.reload();
  await load();
  const kept = await s.tid('ar-template').inputValue();
  if (kept !== template) throw new Error(`after a reload the template is ${JSON.stringify(kept)}`);

  s.step('test send');
  await s.tid('ar-test-send').click();
  await s.tid('ar-test-result').waitFor();
  await s.check('autoresponders-tested');
  await eventually('the test mail in the sandbox outbox', async () => {
    const box = await sandboxJson(s, `/_sandbox/email/outbox?to=${encodeURIComponent(shop)}`);
    return box.mails.some((m) => m.subject.startsWith('[Test]'));
  });

  s.step('restore the default');
  await s.tid('ar-restore').click();
  await until(
    s,
    (text) => document.querySelector('[data-testid="ar-template"]').value !== text,
    template,
  );
}

/** The connections page lists the store's connection with its health; the language
 * picker switches the interface (French here). */
async function connections(s) {
  await signIn(s);
  await s.page.goto(s.url('/#/connections'));
  await ready(s, 'connections');
  const id = `${s.ctx.store_id}-${s.ctx.instance}`;
  s.step('the seeded connection and its health');
  const line = s.page.locator(`[data-testid="connection-row"][data-connection-id="${id}"]`);
  await line.getByTestId('connection-health').waitFor();
  await s.check('connections');

  s.step('French');
  await setField(s.tid('language-picker'), 'fr');
  await until(s, () => document.documentElement.lang === 'fr');
  await s.check('connections-fr');
}

/** A file dropped on the reply box (drag and drop), sent with "reply and solve": the
 * discussion turns solved and the delivery sent. */
async function reply_drop_solve(s) {
  await signIn(s);
  await openInbox(s);
  await row(s, 'drop').getByTestId('row-link').click();
  await ready(s, 'discussion');

  s.step('drop a file on the reply box');
  const text = `photo du colis ${Date.now()}`;
  const transfer = await s.page.evaluateHandle((content) => {
    const data = new DataTransfer();
    data.items.add(new File([content], 'colis.txt', { type: 'text/plain' }));
    return data;
  }, text);
  await s.tid('reply-dropzone').dispatchEvent('dragover', { dataTransfer: transfer });
  await s.tid('reply-dropzone').dispatchEvent('drop', { dataTransfer: transfer });
  await s.tid('reply-file').filter({ hasText: 'colis.txt' }).waitFor();

  s.step('reply and solve');
  const body = `Voici la photo demandée (${Date.now()}).`;
  await s.tid('reply-body').fill(body);
  await s.tid('send-reply-solve').click();
  const sent = s.page.locator('[data-testid="message"][data-direction="outbound"]').filter({ hasText: body });
  await sent.locator('[data-testid="delivery-state"][data-state="sent"]').waitFor({ timeout: PIPELINE_MS });
  await sent.getByTestId('attachment-link').filter({ hasText: 'colis.txt' }).waitFor();
  await until(s, () => document.querySelector('[data-testid="discussion-status"]').value === 'solved');
  await s.check('discussion-solved');
}

/** A reply the marketplace refuses every time (the responder gives up): shown failed,
 * retried from the page, then sent. */
async function delivery_retry(s) {
  await signIn(s);
  await openInbox(s);
  await row(s, 'retry').getByTestId('row-link').click();
  await ready(s, 'discussion');

  const faults = `/_sandbox/mirakl/${s.ctx.instance}/faults`;
  s.step('the marketplace answers 503 to every attempt');
  await sandboxJson(s, faults, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'server_error', status: 503, count: 5, operations: ['M12'] }),
  });
  try {
    const body = `Nous revenons vers vous (${Date.now()}).`;
    await s.tid('reply-body').fill(body);
    await s.tid('send-reply').click();
    const sent = s.page.locator('[data-testid="message"][data-direction="outbound"]').filter({ hasText: body });
    s.step('delivery turns failed');
    await sent.locator('[data-testid="delivery-state"][data-state="failed"]').waitFor({ timeout: PIPELINE_MS });
    await s.check('discussion-delivery-failed');
    s.step('retry');
    await sent.getByTestId('delivery-retry').click();
    await sent.locator('[data-testid="delivery-state"][data-state="sent"]').waitFor({ timeout: PIPELINE_MS });
    if (await sent.getByTestId('delivery-retry').count()) throw new Error('retry still offered once sent');
    await s.check('discussion-delivery-retried');
  } finally {
    // Whatever happened, no armed fault outlives the scenario (other replies share the
    // instance).
    await sandboxJson(s, faults, { method: 'DELETE' });
  }
}

/** The keyboard: on the list j / k move the focus, e solves the focused discussion, o
 * opens it; on its page r focuses the reply box and u goes back to the list. */
async function keyboard(s) {
  await signIn(s);
  await openInbox(s);
  const focusedRow = () =>
    s.page.evaluate(() => {
      const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
      return rows.findIndex((r) => r.contains(document.activeElement));
    });

  s.step('j j k');
  await s.page.locator('h1').click(); // the keys act when no form field has the focus
  for (const key of ['j', 'j', 'k']) await s.page.keyboard.press(key);
  const index = await focusedRow();
  if (index !== 1) throw new Error(`after j j k the focused row is #${index}, not #1`);

  s.step('focus the keyboard thread alone, e solves it');
  await s.tid('filter-subject').fill(s.ctx.subjects.keyboard);
  await s.tid('filter-apply').click();
  await until(s, () => document.querySelectorAll('[data-testid="discussion-row"]').length === 1);
  await s.page.locator('h1').click();
  await s.page.keyboard.press('j');
  await until(s, () => document.activeElement.closest('[data-testid="discussion-row"]') !== null);
  await s.page.keyboard.press('e');
  await row(s, 'keyboard').and(s.page.locator('[data-status="solved"]')).waitFor();
  await s.check('inbox-keyboard-solved');

  s.step('o opens it; on its page r focuses the reply box, u goes back');
  await s.page.keyboard.press('o');
  await ready(s, 'discussion');
  await s.tid('discussion-subject').filter({ hasText: s.ctx.subjects.keyboard }).waitFor();
  await s.page.keyboard.press('r');
  await until(s, () => document.activeElement && document.activeElement.dataset.testid === 'reply-body');
  await s.tid('discussion-subject').click();
  await s.page.keyboard.press('u');
  await ready(s, 'inbox');
}

/** r on the list opens the focused discussion with its reply box focused (TESTING.md). */
async function keyboard_reply(s) {
  await signIn(s);
  await openInbox(s);
  await s.tid('filter-subject').fill(s.ctx.subjects.keyboard);
  await s.tid('filter-apply').click();
  await until(s, () => document.querySelectorAll('[data-testid="discussion-row"]').length === 1);
  await s.page.locator('h1').click();
  await s.page.keyboard.press('j');
  s.step('r on the list');
  await s.page.keyboard.press('r');
  await ready(s, 'discussion');
  await until(s, () => document.activeElement && document.activeElement.dataset.testid === 'reply-body');
  await s.check('discussion-reply-focused');
}

/** The store switcher: all stores list both of the account's stores, one store only its
 * own discussions. */
async function stores(s) {
  await signIn(s);
  await openInbox(s);
  const other = s.ctx.other_store;
  const otherRow = s.tid('discussion-row').filter({ hasText: other.subject });
  s.step('all stores');
  await otherRow.waitFor();
  await row(s, 'filter').waitFor();

  s.step(`only ${other.store_id}`);
  await setField(s.tid('store-switcher'), other.store_id);
  await until(
    s,
    (subject) => {
      const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
      return rows.length === 1 && rows[0].textContent.includes(subject);
    },
    other.subject,
  );
  await s.check('inbox-one-store');

  s.step(`only ${s.ctx.store_id}`);
  await setField(s.tid('store-switcher'), s.ctx.store_id);
  await row(s, 'filter').waitFor();
  await otherRow.waitFor({ state: 'detached' });

  s.step('all stores again');
  await setField(s.tid('store-switcher'), '');
  await otherRow.waitFor();
}

/** Every language of the interface: the page's lang follows the picker, the words
 * change, and axe finds nothing serious in any of them. */
async function languages(s) {
  await signIn(s);
  await openInbox(s);
  const seen = new Map();
  for (const lang of ['en', 'fr', 'es', 'pl', 'de']) {
    s.step(lang);
    await setField(s.tid('language-picker'), lang);
    await until(s, (l) => document.documentElement.lang === l, lang);
    await ready(s, 'inbox');
    const words = await s.tid('filter-apply').innerText();
    if (seen.has(words)) throw new Error(`${lang} reads like ${seen.get(words)}: ${JSON.stringify(words)}`);
    seen.set(words, lang);
    await s.check(`inbox-${lang}`);
  }
}

/** Opens the seeded thread `name` from the list; answers its discussion id. */
async function openThread(s, name) {
  await openInbox(s);
  await row(s, name).getByTestId('row-link').click();
  await ready(s, 'discussion');
  await s.tid('discussion-subject').filter({ hasText: s.ctx.subjects[name] }).waitFor();
  const hash = await s.page.evaluate(() => window.location.hash);
  return decodeURIComponent(hash.replace(/^#\/discussions\//, '').split('?')[0]);
}

/** Clicks `button` and answers the API response of `method` on a path containing `part`. */
async function clickFor(s, button, method, part) {
  const [response] = await Promise.all([
    s.page.waitForResponse((r) => r.request().method() === method && r.url().includes(part), {
      timeout: PIPELINE_MS,
    }),
    button.click(),
  ]);
  return response;
}

/** The discussion as the API has it (the page's own session cookie). */
async function apiDiscussion(s, id) {
  const answer = await s.page.request.get(s.url(`/discussions/${encodeURIComponent(id)}`));
  if (!answer.ok()) throw new Error(`GET /discussions/${id}: ${answer.status()}`);
  return answer.json();
}

/** Tags set on a discussion are saved and still there after a reload; a tag chip on the
 * discussion page opens the list filtered by it (only the tagged discussion, its tags on
 * its row, the filter in the form and the URL); clearing the filter lists them all again,
 * and a row's chip narrows the list the same way. */
async function tags(s) {
  await signIn(s);
  const id = await openThread(s, 'tags');
  s.step('set two tags');
  await s.tid('tags-input').fill('exchange, size-m');
  const saved = await clickFor(s, s.tid('tags-save'), 'PATCH', '/discussions/');
  if (saved.status() !== 200) throw new Error(`saving the tags: ${saved.status()} ${await saved.text()}`);
  await s.check('discussion-tags');

  s.step('reload: the tags persist');
  await s.page.reload();
  await ready(s, 'discussion');
  const kept = await s.tid('tags-input').inputValue();
  if (kept !== 'exchange, size-m') throw new Error(`after a reload the tags read ${JSON.stringify(kept)}`);
  const stored = (await apiDiscussion(s, id)).tags;
  if (JSON.stringify(stored) !== JSON.stringify(['exchange', 'size-m'])) {
    throw new Error(`the API has the tags ${JSON.stringify(stored)}`);
  }

  const onlyTagged = (ids) => {
    const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
    return rows.length === 1 && rows[0].dataset.discussionId === ids;
  };
  s.step('the tag chip on the discussion page filters the list by it');
  await s.tid('discussion-tag').filter({ hasText: 'exchange' }).click();
  await ready(s, 'inbox');
  await until(s, onlyTagged, id);
  const typed = await s.tid('filter-tag').inputValue();
  if (typed !== 'exchange') throw new Error(`the tag filter reads ${JSON.stringify(typed)}`);
  const url = await s.page.evaluate(() => window.location.hash);
  if (!url.includes('tag=exchange')) throw new Error(`the URL does not hold the tag filter: ${url}`);
  const chips = await s.tid('row-tag').allInnerTexts();
  if (JSON.stringify(chips.map((c) => c.trim())) !== JSON.stringify(['exchange', 'size-m'])) {
    throw new Error(`the row shows the tags ${JSON.stringify(chips)}`);
  }
  await s.check('inbox-tag-filter');

  s.step('clear the tag filter: every discussion is listed again');
  await s.tid('filter-tag').fill('');
  await s.tid('filter-apply').click();
  const seeded = Object.keys(s.ctx.subjects).length;
  await until(s, (n) => document.querySelectorAll('[data-testid="discussion-row"]').length >= n, seeded);
  const cleared = await s.page.evaluate(() => window.location.hash);
  if (cleared.includes('tag=')) throw new Error(`the URL still holds a tag filter: ${cleared}`);

  s.step("a row's tag chip filters the list by it");
  await row(s, 'tags').getByTestId('row-tag').filter({ hasText: 'size-m' }).click();
  await until(s, onlyTagged, id);
  const chosen = await s.tid('filter-tag').inputValue();
  if (chosen !== 'size-m') throw new Error(`the tag filter reads ${JSON.stringify(chosen)}`);

  s.step('a tag no discussion holds lists none');
  await s.tid('filter-tag').fill('size-m, no-such-tag');
  await s.tid('filter-apply').click();
  await s.tid('list-empty').waitFor();
}

/** The merchant's ticket id is saved and still there after a reload. */
async function ticket(s) {
  await signIn(s);
  const id = await openThread(s, 'ticket');
  const ticketId = `ZD-${Date.now()}`;
  s.step(`set the ticket id ${ticketId}`);
  await s.tid('ticket-input').fill(ticketId);
  const saved = await clickFor(s, s.tid('ticket-save'), 'PATCH', '/discussions/');
  if (saved.status() !== 200) throw new Error(`saving the ticket id: ${saved.status()} ${await saved.text()}`);
  await s.check('discussion-ticket');

  s.step('reload: the ticket id persists');
  await s.page.reload();
  await ready(s, 'discussion');
  const kept = await s.tid('ticket-input').inputValue();
  if (kept !== ticketId) throw new Error(`after a reload the ticket id reads ${JSON.stringify(kept)}`);
  const stored = (await apiDiscussion(s, id)).merchant_ticket_id;
  if (stored !== ticketId) throw new Error(`the API has the ticket id ${JSON.stringify(stored)}`);
}

/** Resync: the button queues it (202 and the notice), and the discussion is synced
 * again: the API's last_synced_at moves past the click. */
async function resync(s) {
  await signIn(s);
  const id = await openThread(s, 'resync');
  const clicked = Date.now();
  s.step('resync');
  const queued = await clickFor(s, s.tid('resync'), 'POST', '/resync');
  if (queued.status() !== 202) throw new Error(`POST …/resync: ${queued.status()} ${await queued.text()}`);
  const request = await queued.json();
  if (request.state !== 'queued' || !request.request_id) {
    throw new Error(`the resync was not queued: ${JSON.stringify(request)}`);
  }
  await until(s, () => document.querySelector('[data-testid="toast"]').textContent.trim().length > 0);
  await s.check('discussion-resync-queued');

  s.step('the discussion is synced again');
  await eventually('last_synced_at after the click', async () => {
    const synced = (await apiDiscussion(s, id)).last_synced_at;
    return synced && Date.parse(synced) >= clicked - 1000;
  });
}

/** The order's invoice through the reply box's form: what is missing is named, lines can
 * be added and removed, the total follows, and the reply reaches the marketplace with
 * the invoice's PDF (the bytes the gateway serves for it). */
async function invoice(s) {
  await signIn(s);
  await openThread(s, 'invoice');

  s.step('open the invoice form: prefilled from the discussion');
  await s.tid('attach-invoice').check();
  await s.tid('invoice-form').waitFor();
  const name = await s.tid('invoice-name').inputValue();
  if (name !== 'Camille Martin') throw new Error(`the buyer's name is prefilled as ${JSON.stringify(name)}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(await s.tid('invoice-date').inputValue())) {
    throw new Error('the order date is not prefilled');
  }

  s.step('send with the address missing: each field says what is wrong, nothing is sent');
  const body = `Voici votre facture (${Date.now()}).`;
  await s.tid('reply-body').fill(body);
  let posted = 0;
  const count = (r) => {
    if (r.method() === 'POST' && r.url().includes('/replies')) posted += 1;
  };
  s.page.on('request', count);
  await s.tid('send-reply').click();
  await s.tid('invoice-errors').waitFor();
  const messages = await s.page.locator('[data-testid="invoice-field-error"]:visible').count();
  if (messages < 3) throw new Error(`only ${messages} field messages for line 1, city and the line's fields`);
  if (!(await s.tid('invoice-line1').getAttribute('aria-invalid'))) {
    throw new Error('the missing address line is not marked invalid');
  }
  if (posted) throw new Error('an invalid invoice was sent');
  await s.check('discussion-invoice-invalid');

  s.step('fill it in; add a line and remove it');
  await s.tid('invoice-line1').fill('5 place Bellecour');
  await s.tid('invoice-postal-code').fill('69002');
  await s.tid('invoice-city').fill('Lyon');
  await s.tid('invoice-country').selectOption('FR');
  await s.tid('invoice-currency').selectOption('EUR');
  const first = s.tid('invoice-line').first();
  await first.getByTestId('invoice-line-description').fill('Mug en céramique');
  await first.getByTestId('invoice-line-sku').fill('MUG-01');
  await first.getByTestId('invoice-line-quantity').fill('2');
  await first.getByTestId('invoice-line-unit-price').fill('12,50');
  await first.getByTestId('invoice-line-vat').fill('20');
  await s.tid('invoice-line-add').click();
  await until(s, () => document.querySelectorAll('[data-testid="invoice-line"]').length === 2);
  await s.tid('invoice-line').nth(1).getByTestId('invoice-line-remove').click();
  await until(s, () => document.querySelectorAll('[data-testid="invoice-line"]').length === 1);
  // 2 × 12.50 + 20 % VAT = 30.00, written the page's (English) way.
  await s.tid('invoice-total').filter({ hasText: '30.00' }).waitFor();
  await s.check('discussion-invoice-filled');

  s.step('send: the reply carries the invoice');
  s.page.off('request', count);
  const sentReply = await clickFor(s, s.tid('send-reply'), 'POST', '/replies');
  if (sentReply.status() !== 202) throw new Error(`the reply: ${sentReply.status()} ${await sentReply.text()}`);
  const accepted = await sentReply.json();
  if (!accepted.invoice || !accepted.invoice.number.startsWith('NAV')) {
    throw new Error(`the reply was accepted without the invoice: ${JSON.stringify(accepted)}`);
  }
  const sent = s.page.locator('[data-testid="message"][data-direction="outbound"]').filter({ hasText: body });
  await sent.locator('[data-testid="delivery-state"][data-state="sent"]').waitFor({ timeout: PIPELINE_MS });
  const link = sent.getByTestId('attachment-link').filter({ hasText: '.pdf' });
  await link.waitFor();
  await s.check('discussion-invoice-sent');

  s.step('the marketplace received the invoice PDF the gateway serves');
  const pdf = await s.page.request.get(s.url(await link.getAttribute('href')));
  const bytes = await pdf.body();
  if (!pdf.ok() || !bytes.subarray(0, 4).equals(Buffer.from('%PDF'))) {
    throw new Error(`the attachment link does not give a PDF: ${pdf.status()}`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  const path = `/_sandbox/mirakl/${s.ctx.instance}/replies?thread_id=${encodeURIComponent(s.ctx.threads.invoice)}`;
  const received = await sandboxJson(s, path);
  const reply = received.replies.find((r) => r.body.includes(body));
  if (!reply) throw new Error(`the sandbox has no reply with the body sent: ${JSON.stringify(received)}`);
  if (!reply.attachments.some((a) => a.name.endsWith('.pdf') && a.sha256 === digest)) {
    throw new Error(`the reply reached the marketplace without the invoice: ${JSON.stringify(reply.attachments)}`);
  }

  s.step('in French: the form is emptied after the reply, its words and amounts are French');
  await setField(s.tid('language-picker'), 'fr');
  await until(s, () => document.documentElement.lang === 'fr');
  await ready(s, 'discussion');
  await s.tid('attach-invoice').check();
  const line = s.tid('invoice-line').first();
  if (await s.tid('invoice-city').inputValue()) throw new Error('the form kept the last invoice after the reply');
  await line.getByTestId('invoice-line-quantity').fill('2');
  await line.getByTestId('invoice-line-unit-price').fill('12.5');
  await line.getByTestId('invoice-line-vat').fill('20');
  await s.tid('invoice-total').filter({ hasText: 'TTC' }).filter({ hasText: '30,00' }).waitFor();
  await s.check('discussion-invoice-fr');
}

/** A discussion whose reply is due within the gateway's at-risk window: counted at risk,
 * listed under the at-risk filter with its due date highlighted, and out of both once
 * the reply is sent. */
async function at_risk(s) {
  await signIn(s);
  await openInbox(s);
  const riskCount = async () => Number.parseInt((await s.tid('at-risk-count').innerText()).replace(/\D/g, ''), 10);

  s.step('counted at risk');
  const before = await riskCount();
  if (!(before >= 1)) throw new Error(`the at-risk count reads ${before}`);
  await row(s, 'at_risk').getByTestId('row-due').and(s.page.locator('[data-at-risk="true"]')).waitFor();

  s.step('the at-risk filter lists it, and only discussions at risk');
  await s.tid('at-risk-count').click();
  await s.page.locator('[data-testid="at-risk-count"][aria-pressed="true"]').waitFor();
  await row(s, 'at_risk').waitFor();
  await until(s, () => {
    const rows = [...document.querySelectorAll('[data-testid="discussion-row"]')];
    return rows.length > 0 && rows.every((r) => r.querySelector('[data-testid="row-due"][data-at-risk="true"]'));
  });
  if (await row(s, 'filter').count()) throw new Error('a discussion due in 48 h is listed as at risk');
  await s.check('inbox-at-risk');

  s.step('reply');
  await row(s, 'at_risk').getByTestId('row-link').click();
  await ready(s, 'discussion');
  const body = `Votre colis part aujourd'hui (${Date.now()}).`;
  await s.tid('reply-body').fill(body);
  await s.tid('send-reply').click();
  const sent = s.page.locator('[data-testid="message"][data-direction="outbound"]').filter({ hasText: body });
  await sent.locator('[data-testid="delivery-state"][data-state="sent"]').waitFor({ timeout: PIPELINE_MS });

  s.step('no longer at risk');
  await eventually('the discussion out of the at-risk view', async () => {
    await s.page.goto(s.url('/#/inbox?due=1'));
    await s.page.reload();
    await ready(s, 'inbox');
    return (await row(s, 'at_risk').count()) === 0 && (await riskCount()) < before;
  });
  await s.check('inbox-at-risk-replied');
}

export const scenarios = {
  smoke,
  sign_in,
  filter,
  open_read,
  reply_with_file,
  live,
  bulk_status,
  autoresponder,
  connections,
  reply_drop_solve,
  delivery_retry,
  keyboard,
  keyboard_reply,
  stores,
  languages,
  tags,
  ticket,
  resync,
  invoice,
  at_risk,
};
