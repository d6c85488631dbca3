// The order's invoice, as a support agent fills it in on the reply box: order date,
// currency, the buyer's billing address and the order lines (add / remove), checked in
// the page before sending. It builds the `attach_invoice` body of POST
// /discussions/{id}/replies (api/invoice_models.py InvoiceOrderIn) and nothing else: the
// invoicer still validates the content and its 422 names the field.
//
// Amounts travel as decimal strings ("19.99") exactly as typed (a comma is taken as the
// decimal separator), never through a binary float; totals are only shown, per locale.

import {h, replace} from '../dom.js';
import {currentLanguage, t} from '../i18n.js';

// ISO 4217 codes the marketplaces Parley connects sell in.
export const CURRENCIES = ['EUR', 'PLN', 'GBP', 'SEK', 'DKK', 'NOK', 'CZK', 'HUF', 'RON', 'BGN',
  'CHF', 'USD'];
// ISO 3166-1 alpha-2 codes of the billing countries offered (Europe first).
export const COUNTRIES = ['FR', 'DE', 'ES', 'IT', 'PL', 'BE', 'NL', 'LU', 'AT', 'PT', 'IE', 'SE',
  'DK', 'FI', 'CZ', 'SK', 'HU', 'RO', 'BG', 'GR', 'HR', 'SI', 'EE', 'LV', 'LT', 'CY', 'MT', 'GB',
  'CH', 'NO', 'US'];
// A first guess of the billing country: the country an id carries (amazon-de,
// carrefour-es, cdon-se: Parley's marketplace ids, as parley_store reads them for the
// buyers' language), else the home country of a single-country marketplace.
const HOME_COUNTRY = [[/carrefour|cdiscount|fnac|darty|boulanger|rakuten|leclerc/, 'FR'],
  [/otto|kaufland|mediamarkt/, 'DE'], [/pccomponentes|worten|elcorte/, 'ES'],
  [/allegro|empik/, 'PL'], [/cdon/, 'SE']];

/** "carrefour-es" → "ES", "amazon-uk" → "GB", "fnac" → "FR"; "" when unknown. */
export function marketplaceCountry(marketplace) {
  const id = String(marketplace || '').toLowerCase();
  const suffix = (id.match(/[-_]([a-z]{2})$/) || [])[1];
  const carried = suffix === 'uk' ? 'GB' : (suffix || '').toUpperCase();
  if (COUNTRIES.includes(carried)) return carried;
  return (HOME_COUNTRY.find(([pattern]) => pattern.test(id)) || [])[1] || '';
}

const DECIMAL = /^\d+([.,]\d+)?$/;

function displayName(type, code) {
  try {
    return new Intl.DisplayNames([currentLanguage()], {type}).of(code) || code;
  } catch {
    return code;
  }
}

/** "12,50" or "12.50" → "12.50"; null when it is not a plain decimal. */
export function decimalOf(text) {
  const value = String(text).trim();
  return DECIMAL.test(value) ? value.replace(',', '.') : null;
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** What the discussion tells about the order: prefills the form. */
function prefillOf(d) {
  const customer = (d.participants || []).find((p) => p.role === 'customer');
  const order = (d.entities || []).find((e) => e.type === 'order') || {};
  const items = (d.entities || []).filter((e) => ['offer', 'product', 'order_line', 'item'].includes(e.type));
  const country = marketplaceCountry(d.marketplace);
  const currency = [d.currency, order.currency].find((c) => CURRENCIES.includes(c)) || '';
  return {
    name: (customer && customer.name) || '',
    currency,
    country,
    lines: items.length
      ? items.map((e) => ({sku: e.id, label: e.label || e.id, quantity: '1', price: '', vat: ''}))
      : [{sku: '', label: '', quantity: '1', price: '', vat: ''}],
  };
}

/**
 * The invoice form for discussion `d`. Answers {element, reset(d), value()}: value()
 * shows the messages of the invalid fields and answers null, else the request body.
 */
export function invoiceForm(d) {
  let lines = [];
  let nextLine = 0;
  const errors = [];

  const input = (testid, attrs = {}) => h('input', {id: testid, testid, ...attrs});
  const date = input('invoice-date', {type: 'date'});
  const currency = h('select', {id: 'invoice-currency', testid: 'invoice-currency'},
    h('option', {value: ''}, t('invoice.currencyDefault')),
    CURRENCIES.map((c) => h('option', {value: c}, `${c} — ${displayName('currency', c)}`)));
  const name = input('invoice-name', {autocomplete: 'off', maxlength: 200});
  const line1 = input('invoice-line1', {maxlength: 200});
  const line2 = input('invoice-line2', {maxlength: 200});
  const postal = input('invoice-postal-code', {maxlength: 200});
  const city = input('invoice-city', {maxlength: 200});
  const country = h('select', {id: 'invoice-country', testid: 'invoice-country'},
    h('option', {value: ''}, t('invoice.choose')),
    COUNTRIES.map((c) => h('option', {value: c}, displayName('region', c))));
  const lineList = h('ol', {class: 'invoice-lines', testid: 'invoice-lines'});
  const total = h('p', {class: 'invoice-total', testid: 'invoice-total', 'aria-live': 'polite'});
  const summary = h('p', {class: 'error', testid: 'invoice-errors', role: 'alert', hidden: true});

  /** A label + control + the control's own message slot (aria-describedby). Required
   * fields are aria-required, not `required`: the form is inside the reply form, and a
   * hidden required field would block sending a reply without an invoice. */
  function labelled(text, control, required = false) {
    const message = h('span', {class: 'error field-error', id: `${control.id}-error`,
      testid: 'invoice-field-error', hidden: true});
    control.setAttribute('aria-describedby', message.id);
    if (required) control.setAttribute('aria-required', 'true');
    control.addEventListener('input', () => clear(control));
    control.addEventListener('change', () => clear(control));
    return h('div', {class: 'field'}, h('label', {for: control.id},
      text, required ? h('span', {'aria-hidden': 'true'}, ' *') : null), control, message);
  }

  function clear(control) {
    control.removeAttribute('aria-invalid');
    const message = control.parentElement && control.parentElement.querySelector('.field-error');
    if (message) message.hidden = true;
    drawTotal();
  }

  function fail(control, key, vars) {
    control.setAttribute('aria-invalid', 'true');
    const message = control.parentElement.querySelector('.field-error');
    message.textContent = t(key, vars);
    message.hidden = false;
    errors.push(control);
  }

  function addLine(values = {sku: '', label: '', quantity: '1', price: '', vat: ''}) {
    const n = nextLine++;
    const control = (key, attrs) => input(`invoice-line-${key}-${n}`, {...attrs, value: values[key] ?? ''});
    const line = {
      n,
      label: control('label', {maxlength: 1000}),
      sku: control('sku', {maxlength: 64}),
      quantity: control('quantity', {inputmode: 'decimal'}),
      price: control('price', {inputmode: 'decimal'}),
      vat: control('vat', {inputmode: 'decimal'}),
    };
    for (const key of ['label', 'sku', 'quantity', 'price', 'vat']) {
      line[key].dataset.testid = `invoice-line-${key === 'label' ? 'description' : key === 'price' ? 'unit-price' : key}`;
    }
    line.amount = h('output', {class: 'line-total', testid: 'invoice-line-total', for: line.price.id});
    line.element = h('li', {class: 'invoice-line', testid: 'invoice-line'},
      h('fieldset', {},
        h('legend', {}, t('invoice.line', {n: lines.length + 1})),
        h('div', {class: 'invoice-line-grid'},
          labelled(t('invoice.description'), line.label, true),
          labelled(t('invoice.sku'), line.sku, true),
          labelled(t('invoice.quantity'), line.quantity, true),
          labelled(t('invoice.unitPrice'), line.price, true),
          labelled(t('invoice.vatRate'), line.vat, true)),
        h('p', {class: 'line-foot'}, line.amount, ' ',
          h('button', {type: 'button', class: 'link', testid: 'invoice-line-remove',
            onclick: () => removeLine(line)}, t('invoice.removeLine', {n: lines.indexOf(line) + 1})))));
    lines.push(line);
    lineList.append(line.element);
    renumber();
    return line;
  }

  function removeLine(line) {
    if (lines.length === 1) return;
    lines = lines.filter((l) => l !== line);
    line.element.remove();
    renumber();
    lines[0].label.focus();
  }

  /** Legends and remove buttons say which line they are; the last line cannot go. */
  function renumber() {
    lines.forEach((line, i) => {
      line.element.querySelector('legend').textContent = t('invoice.line', {n: i + 1});
      const remove = line.element.querySelector('[data-testid="invoice-line-remove"]');
      remove.textContent = t('invoice.removeLine', {n: i + 1});
      remove.hidden = lines.length === 1;
    });
    drawTotal();
  }

  function money(amount) {
    const code = currency.value;
    return code
      ? new Intl.NumberFormat(currentLanguage(), {style: 'currency', currency: code}).format(amount)
      : new Intl.NumberFormat(currentLanguage(), {minimumFractionDigits: 2, maximumFractionDigits: 2}).format(amount);
  }

  /** Shown only: each line's total and the invoice's, VAT included, per locale. */
  function drawTotal() {
    let sum = 0;
    let complete = true;
    for (const line of lines) {
      const [q, p, v] = [line.quantity, line.price, line.vat].map((c) => decimalOf(c.value));
      if (q === null || p === null || v === null) {
        line.amount.textContent = '';
        complete = false;
        continue;
      }
      const amount = Number(q) * Number(p) * (1 + Number(v) / 100);
      sum += amount;
      line.amount.textContent = t('invoice.lineTotal', {amount: money(amount)});
    }
    total.textContent = complete && lines.length ? t('invoice.total', {amount: money(sum)}) : '';
  }
  currency.addEventListener('change', drawTotal);

  const addButton = h('button', {type: 'button', testid: 'invoice-line-add', onclick: () => addLine().label.focus()},
    t('invoice.addLine'));
  const element = h('fieldset', {class: 'invoice-form', testid: 'invoice-form'},
    h('legend', {}, t('invoice.title')),
    h('small', {class: 'hint'}, t('invoice.hint')),
    h('div', {class: 'invoice-grid'},
      labelled(t('invoice.orderDate'), date, true),
      labelled(t('invoice.currency'), currency)),
    h('fieldset', {},
      h('legend', {}, t('invoice.billing')),
      h('div', {class: 'invoice-grid'},
        labelled(t('invoice.name'), name),
        labelled(t('invoice.line1'), line1, true),
        labelled(t('invoice.line2'), line2),
        labelled(t('invoice.postalCode'), postal),
        labelled(t('invoice.city'), city, true),
        labelled(t('invoice.country'), country, true))),
    h('h3', {}, t('invoice.lines')),
    lineList,
    addButton,
    total,
    summary);

  /** Fills the form from the discussion (and empties what the agent typed). */
  function reset(discussion) {
    const prefill = prefillOf(discussion);
    date.value = today();
    currency.value = prefill.currency;
    name.value = prefill.name;
    for (const control of [line1, line2, postal, city]) control.value = '';
    country.value = prefill.country;
    lines = [];
    replace(lineList);
    prefill.lines.forEach((l) => addLine(l));
    for (const control of element.querySelectorAll('[aria-invalid]')) clear(control);
    summary.hidden = true;
  }

  /** The attach_invoice body, or null after showing what is wrong (focus on the first). */
  function value() {
    errors.length = 0;
    for (const control of element.querySelectorAll('[aria-invalid]')) clear(control);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date.value)) fail(date, 'invoice.errorDate');
    if (!line1.value.trim()) fail(line1, 'invoice.errorRequired');
    if (!city.value.trim()) fail(city, 'invoice.errorRequired');
    if (!country.value) fail(country, 'invoice.errorCountry');
    const orderLines = lines.map((line) => {
      if (!line.label.value.trim()) fail(line.label, 'invoice.errorRequired');
      if (!line.sku.value.trim()) fail(line.sku, 'invoice.errorRequired');
      const quantity = decimalOf(line.quantity.value);
      if (quantity === null || !(Number(quantity) > 0)) fail(line.quantity, 'invoice.errorQuantity');
      const price = decimalOf(line.price.value);
      if (price === null) fail(line.price, 'invoice.errorPrice');
      const vat = decimalOf(line.vat.value);
      if (vat === null || Number(vat) > 100) fail(line.vat, 'invoice.errorVat');
      return {sku: line.sku.value.trim(), label: line.label.value.trim(), quantity,
        unit_price_excl_vat: price, vat_rate: vat};
    });
    if (errors.length) {
      summary.textContent = t('invoice.errors', {count: errors.length});
      summary.hidden = false;
      errors[0].focus();
      return null;
    }
    summary.hidden = true;
    const address = {lines: [line1.value.trim(), line2.value.trim()].filter(Boolean),
      city: city.value.trim(), country_code: country.value};
    if (postal.value.trim()) address.postal_code = postal.value.trim();
    const buyer = {billing_address: address};
    if (name.value.trim()) buyer.name = name.value.trim();
    const body = {order_date: date.value, buyer, lines: orderLines};
    if (currency.value) body.currency = currency.value;
    return body;
  }

  reset(d || {});
  return {element, reset, value};
}
