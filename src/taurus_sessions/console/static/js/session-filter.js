// The session table's filter form: every filter of the list call, the sort, the page size and the
// threshold above which a running statement is marked long.
import { h } from './dom.js';
import { filterFields } from './filters.js';
import { choiceSelect } from './choices.js';

const PAGE_SIZES = [25, 50, 100];
const SORTS = [{ value: 'id', key: 'sort.id' }, { value: 'time', key: 'sort.time' }, { value: 'user', key: 'sort.user' }];
const ORDERS = [{ value: 'asc', key: 'sort.asc' }, { value: 'desc', key: 'sort.desc' }];

const field = (id, key, input) => h('div', { class: 'field' }, h('label', { for: id, i18n: key }), input);

// onApply({filter, sort, order, limit}): the form was submitted or cleared;
// onPageSize(limit): only the page size changed; onLongAfter(seconds): a valid new threshold.
export function createSessionFilter({ limit, longAfter, onApply, onPageSize, onLongAfter }) {
  const fields = filterFields('flt');
  const sort = choiceSelect('sort', SORTS);
  const order = choiceSelect('order', ORDERS);
  const pageSize = h('select', { id: 'page-size' },
    PAGE_SIZES.map((n) => h('option', { value: n, text: n, selected: n === limit })));
  const longInput = h('input', { id: 'long-after', type: 'number', min: 1, step: 1, value: longAfter, inputmode: 'numeric' });
  const clearButton = h('button', { type: 'button', class: 'btn', id: 'filter-clear', i18n: 'filter.clear' });
  const form = h('form', { id: 'session-filter', class: 'card filter-form', novalidate: true },
    h('fieldset', null,
      h('legend', { i18n: 'filter.legend' }),
      fields.element,
      h('p', { class: 'hint muted', i18n: 'filter.wildcards' }),
      h('div', { class: 'row' },
        field('sort', 'sort.by', sort),
        field('order', 'sort.order', order),
        field('page-size', 'page.size', pageSize),
        field('long-after', 'marks.longAfter', longInput),
        h('div', { class: 'field end buttons' },
          h('button', { type: 'submit', class: 'btn primary', id: 'filter-apply', i18n: 'filter.apply' }),
          clearButton))));

  const read = () => ({ filter: fields.read(), sort: sort.value, order: order.value, limit: Number(pageSize.value) });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onApply(read());
  });
  clearButton.addEventListener('click', () => {
    fields.clear();
    onApply(read());
  });
  pageSize.addEventListener('change', () => onPageSize(Number(pageSize.value)));
  longInput.addEventListener('input', () => {
    const seconds = Number(longInput.value);
    if (Number.isFinite(seconds) && seconds > 0) onLongAfter(seconds);
  });

  return {
    element: form,
    // The filter as typed, applied or not (kill by filter starts from it).
    typedFilter: () => fields.read(),
    // Fill in a filter and apply it with the rest of the form (a click on a count bar).
    applyFilter(filter) {
      fields.set(filter);
      onApply(read());
    },
    showSort(sortKey, orderKey) {
      sort.value = sortKey;
      order.value = orderKey;
    },
  };
}
