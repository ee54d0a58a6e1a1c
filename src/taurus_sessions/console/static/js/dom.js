// Small DOM helpers: element building (text only, never HTML from data), i18n-aware labels,
// modal dialogs, formatting.
import { t, applyI18n } from './i18n.js';

let uid = 0;
export function nextId(prefix = 'el') {
  uid += 1;
  return `${prefix}-${uid}`;
}

function setI18n(el, spec) {
  const [key, args] = Array.isArray(spec) ? spec : [spec, undefined];
  el.dataset.i18n = key;
  if (args !== undefined) el.dataset.i18nArgs = JSON.stringify(args);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, args);
}

// Re-point an element at another message (keeps it translated on a language switch).
export function label(el, key, args) {
  setI18n(el, args === undefined ? key : [key, args]);
  return el;
}

// h('button', {class: 'btn', i18n: 'kill.confirm', onclick: fn}, child, ...)
//   i18n: 'key' or ['key', {args}] sets the text and keeps it translated;
//   attrI18n: {placeholder: 'key', 'aria-label': ['key', args]} translates attributes;
//   style: {width: '40%'} sets properties through the CSSOM.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'style') setStyle(el, value);
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'i18n') setI18n(el, value);
    else if (name === 'attrI18n') setAttrI18n(el, value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on')) listen(el, name, value);
    else if (name === 'value') el.value = value;
    else if (name === 'checked') el.checked = Boolean(value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

// A strict Content-Security-Policy (style-src 'self') refuses style attributes, whether written in
// HTML or set as a string; properties set one by one through the CSSOM are allowed.
function setStyle(el, properties) {
  if (typeof properties !== 'object') throw new TypeError('style takes {property: value}, never a string');
  Object.assign(el.style, properties);
}

// Handlers are functions: an onclick="…" attribute is inline script, which script-src 'self' refuses.
function listen(el, name, handler) {
  if (typeof handler !== 'function') throw new TypeError(`${name} takes a function, never a string`);
  el.addEventListener(name.slice(2).toLowerCase(), handler);
}

export function setAttrI18n(el, spec) {
  const stored = {};
  for (const [attr, v] of Object.entries(spec)) {
    const [key, args] = Array.isArray(v) ? v : [v, undefined];
    el.setAttribute(attr, t(key, args));
    stored[attr] = args === undefined ? [key] : [key, args];
  }
  el.dataset.i18nAttr = JSON.stringify(stored);
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function show(el, visible = true) {
  el.hidden = !visible;
  return el;
}

// An error banner: "CODE: message", or nothing.
export function showError(el, error) {
  if (!error) {
    el.hidden = true;
    clear(el);
    return;
  }
  clear(el);
  el.append(h('span', { class: 'error-text', text: errorText(error) }));
  if (error.requestId) {
    el.append(' ', h('span', { class: 'muted small', i18n: ['error.requestId', { id: error.requestId }] }));
  }
  el.hidden = false;
}

export function errorText(error) {
  if (error && error.code) return `${error.code}: ${error.message}`;
  if (error && error.message) return error.message;
  return String(error);
}

// --- dialogs ------------------------------------------------------------------------------------
// A modal <dialog>: Escape closes it, focus stays inside it while open and returns afterwards.
export function modal({ title, className = '', onClose } = {}) {
  const opener = document.activeElement;
  const titleId = nextId('dlg-title');
  const heading = h('h2', { id: titleId, i18n: title });
  const closeButton = h('button', {
    type: 'button',
    class: 'btn icon close',
    attrI18n: { 'aria-label': 'common.close', title: 'common.close' },
    text: '×',
  });
  const body = h('div', { class: 'dialog-body' });
  const footer = h('div', { class: 'dialog-actions' });
  const dlg = h('dialog', { class: `modal ${className}`, 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' }, heading, closeButton), body, footer);
  closeButton.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    if (onClose) onClose();
  });
  document.body.append(dlg);
  dlg.showModal();
  return {
    dlg,
    body,
    footer,
    heading,
    close: () => { if (dlg.open) dlg.close(); },
    get open() { return dlg.open; },
  };
}

// --- formatting ---------------------------------------------------------------------------------
const pad = (n) => String(n).padStart(2, '0');

export function formatTime(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds === '') return '';
  let s = Math.max(0, Math.round(Number(seconds)));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60); s -= mm * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${pad(mm)}m`;
  if (mm) return `${mm}m ${pad(s)}s`;
  return `${s}s`;
}

// A table from rows; columns = [{key|label, get(row) -> node|string, class}]
export function table(columns, rows, { caption, empty = 'common.none', className = 'grid', rowData } = {}) {
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class, i18n: c.label }))));
  const tbody = h('tbody');
  if (!rows.length) {
    tbody.append(h('tr', null, h('td', { colspan: columns.length, class: 'empty', i18n: empty })));
  }
  for (const row of rows) {
    tbody.append(h('tr', rowData ? { dataset: rowData(row) } : null, columns.map((c) => {
      const v = c.get(row);
      return h('td', { class: c.class }, v instanceof Node ? v : (v === null || v === undefined ? '' : String(v)));
    })));
  }
  return h('div', { class: 'table-wrap' },
    h('table', { class: className }, caption ? h('caption', { i18n: caption }) : null, thead, tbody));
}

export function definitionList(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([key, value]) => [
    h('dt', { i18n: key }),
    h('dd', null, value instanceof Node ? value : (value === null || value === undefined || value === '' ? '—' : String(value))),
  ]));
}

export function download(filename, text, type) {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export { t, applyI18n };
