// DAS's database users: register an existing account of the instance (checked by the service by
// logging in), list and remove registrations, and browse the instance's sessions as one of them,
// seeing and killing only what that account may.
import { h, append, clear, label, showError, table, t } from './dom.js';
import { get, post, del, paths } from './api.js';
import { can, ACTIONS, projectId, state } from './state.js';
import { createDasSessions } from './das-sessions.js';

export function createDbUsersView(panel) {
  const canManage = can(ACTIONS.dasManageDbUsers);
  const listError = h('p', { class: 'banner error', id: 'dbusers-error', role: 'alert', hidden: true });
  const listBox = h('div', { id: 'dbusers-list' });
  const browse = createDasSessions();
  const form = canManage ? registerForm() : null;
  let users = [];

  append(panel, [
    h('h2', { class: 'panel-title', i18n: 'das.title' }),
    h('p', { class: 'note', i18n: 'das.intro' }),
    form ? form.element : null,
    h('section', { 'aria-labelledby': 'dbusers-list-title' },
      h('h3', { id: 'dbusers-list-title', i18n: 'das.listTitle' }),
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', class: 'btn', id: 'dbusers-refresh', i18n: 'common.refresh', onclick: () => load() })),
      listError, listBox),
    browse.element]);

  function registerForm() {
    const name = h('input', { id: 'dbuser-name', name: 'db_username', autocomplete: 'off', required: true, maxlength: 128 });
    const password = h('input', { id: 'dbuser-password', name: 'db_user_password', type: 'password', autocomplete: 'new-password', required: true });
    const submit = h('button', { type: 'submit', class: 'btn primary', id: 'dbuser-register', i18n: 'das.register' });
    const error = h('p', { class: 'banner error', id: 'dbuser-form-error', role: 'alert', hidden: true });
    const done = h('p', { class: 'banner info', id: 'dbuser-registered', role: 'status', hidden: true });
    const element = h('form', { class: 'card', id: 'dbuser-form', 'aria-labelledby': 'dbuser-form-title', novalidate: true },
      h('h3', { id: 'dbuser-form-title', i18n: 'das.registerTitle' }),
      h('p', { class: 'hint muted', i18n: 'das.registerHint' }),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'dbuser-name', i18n: 'das.username' }), name),
        h('div', { class: 'field' }, h('label', { for: 'dbuser-password', i18n: 'das.password' }), password),
        submit),
      error, done);
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      done.hidden = true;
      if (!name.value.trim() || !password.value) {
        showError(error, { message: t('das.missing') });
        (name.value.trim() ? password : name).focus();
        return;
      }
      submit.disabled = true;
      showError(error, null);
      try {
        const created = await post(paths.dbUsers(projectId(), state.instanceId), {
          db_username: name.value.trim(),
          db_user_password: password.value,
          datastore_type: 'MySQL',
        });
        label(done, 'das.registered', { name: name.value.trim() });
        done.hidden = false;
        name.value = '';
        await load();
        const user = users.find((u) => u.db_user_id === created.db_user_id);
        if (user) browse.show(user);
      } catch (exc) {
        showError(error, exc);
        password.select();
      } finally {
        password.value = ''; // never kept in the page longer than the call
        submit.disabled = false;
      }
    });
    return { element, reset: () => { showError(error, null); done.hidden = true; } };
  }

  async function load() {
    if (!state.instanceId) return;
    const instanceId = state.instanceId;
    try {
      const data = await get(paths.dbUsers(projectId(), instanceId), { limit: 100 });
      if (instanceId !== state.instanceId) return;
      users = (data && data.db_users) || [];
      showError(listError, null);
      render();
    } catch (exc) {
      showError(listError, exc);
    }
  }

  function render() {
    clear(listBox).append(table([
      { label: 'das.username', get: (u) => h('strong', { text: u.db_username }) },
      { label: 'das.id', get: (u) => h('code', { text: u.db_user_id }) },
      { label: 'col.actions', get: (u) => h('span', { class: 'row-actions' },
        h('button', {
          type: 'button',
          class: 'btn small dbuser-browse',
          i18n: 'das.browse',
          attrI18n: { 'aria-label': ['das.browseNamed', { name: u.db_username }] },
          onclick: () => browse.show(u),
        }),
        ' ',
        canManage ? h('button', {
          type: 'button',
          class: 'btn small danger-outline dbuser-remove',
          i18n: 'das.remove',
          attrI18n: { 'aria-label': ['das.removeNamed', { name: u.db_username }] },
          onclick: (event) => remove(u, event.currentTarget),
        }) : null) },
    ], users, { empty: 'das.none', className: 'grid dbusers-table', rowData: (u) => ({ dbUserId: u.db_user_id }) }));
  }

  async function remove(user, button) {
    button.disabled = true;
    try {
      await del(paths.dbUser(projectId(), state.instanceId, user.db_user_id));
      if (browse.isShowing(user.db_user_id)) browse.hide();
      await load();
      const first = listBox.querySelector('button');
      if (first) first.focus();
    } catch (exc) {
      showError(listError, exc);
      button.disabled = false;
    }
  }

  return {
    activate() {
      load();
    },
    deactivate() {},
    contextChanged() {
      if (form) form.reset();
      browse.contextChanged();
      load();
    },
    languageChanged() {
      render();
      browse.languageChanged();
    },
    destroy() {
      users = [];
    },
  };
}
