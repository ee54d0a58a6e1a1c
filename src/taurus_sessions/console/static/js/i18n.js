// The label lookup. Elements carry data-i18n (text) and data-i18n-attr (attributes), so a language
// switch relabels the whole page in place; the API calls follow with X-Language.
import en from './i18n/en.js';
import zh from './i18n/zh.js';

export const dictionaries = { en, zh };

const STORE_KEY = 'taurus.console.language';
const listeners = new Set();

function initial() {
  try {
    const saved = localStorage.getItem(STORE_KEY);
    if (saved && dictionaries[saved]) return saved;
  } catch {
    // storage disabled: fall through
  }
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let language = initial();

export function getLanguage() {
  return language;
}

// The X-Language header value for the API.
export function apiLanguage() {
  return language === 'zh' ? 'zh-cn' : 'en-us';
}

export function t(key, args) {
  const text = dictionaries[language][key] ?? en[key] ?? key;
  if (!args) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (args[name] === undefined || args[name] === null ? whole : String(args[name])));
}

export function applyI18n(root) {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const args = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : undefined;
    el.textContent = t(el.dataset.i18n, args);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    // {"attribute": ["key", {args}]}
    for (const [attr, [key, args]] of Object.entries(JSON.parse(el.dataset.i18nAttr))) {
      el.setAttribute(attr, t(key, args));
    }
  }
}

export function setLanguage(next) {
  if (!dictionaries[next] || next === language) return;
  language = next;
  try {
    localStorage.setItem(STORE_KEY, next);
  } catch {
    // not remembered
  }
  applyI18n(document);
  for (const listener of listeners) listener(language);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
}
