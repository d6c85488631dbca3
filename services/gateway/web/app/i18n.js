// Languages (EN, FR, ES, PL, DE): one JSON catalogue per language under /web/i18n/,
// the same keys in each (a Python unit test checks it); dates and numbers through Intl.

export const LANGUAGES = ['en', 'fr', 'es', 'pl', 'de'];
const STORAGE_KEY = 'parley.language';

let language = 'en';
let catalogue = {};
let english = {};

async function load(lang) {
  const response = await fetch(`/web/i18n/${lang}.json`, {credentials: 'same-origin'});
  if (!response.ok) throw new Error(`no catalogue for ${lang}`);
  return response.json();
}

/** The saved choice, else the browser's first supported language, else English. */
export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  if (!Object.keys(english).length) english = await load('en');
  catalogue = lang === 'en' ? english : await load(lang);
  language = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export function currentLanguage() {
  return language;
}

/** The text of `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars) {
  const text = catalogue[key] ?? english[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function formatDate(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(language, {dateStyle: 'medium', timeStyle: 'short'})
    .format(new Date(iso));
}

export function formatNumber(value) {
  return new Intl.NumberFormat(language).format(value);
}

export function formatBytes(size) {
  if (size === null || size === undefined) return '';
  const units = ['byte', 'kilobyte', 'megabyte'];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(language, {
    style: 'unit', unit: units[unit], unitDisplay: 'short', maximumFractionDigits: 1,
  }).format(value);
}

/** "in 3 hours" / "2 hours ago", per locale. */
export function formatRelative(iso) {
  if (!iso) return '';
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  const rtf = new Intl.RelativeTimeFormat(language, {numeric: 'auto'});
  if (Math.abs(minutes) < 60) return rtf.format(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 48) return rtf.format(hours, 'hour');
  return rtf.format(Math.round(hours / 24), 'day');
}
