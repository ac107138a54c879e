// Small DOM helpers shared by the demo's modules.

export const $ = (id) => document.getElementById(id);

/** el('button', {class: 'x', dataset: {action: 'kick'}}, 'Kick') */
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(n.dataset, v);
    else if (k === 'onclick') n.addEventListener('click', v);
    else if (k === 'text') n.textContent = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) n.append(c);
  return n;
}

const MAX_NOTICES = 4;

/**
 * notice shows a short message in the corner. Errors stay longer and are
 * marked data-level="error" so tests (and people) can tell them apart.
 */
export function notice(text, level = 'info') {
  const list = $('notices');
  const item = el('li', { 'data-testid': 'notice', 'data-level': level, text });
  list.append(item);
  while (list.children.length > MAX_NOTICES) list.firstElementChild.remove();
  setTimeout(() => item.remove(), level === 'error' ? 15000 : 7000);
  (level === 'error' ? console.warn : console.info)(`[seatsfu] ${text}`);
}

/** describe turns a failure into the sentence a user reads. */
export function describe(e) {
  if (e && e.name === 'RpcError') {
    return e.reason && e.reason !== 'error' ? `${e.message} (${e.reason})` : e.message;
  }
  if (e && e.name === 'NotAllowedError') return 'camera/microphone permission was denied';
  if (e && e.name === 'NotFoundError') return 'no camera or microphone found';
  return e?.message || String(e);
}

/**
 * act runs a user action and reports its failure with the server's reason;
 * the button is disabled while the action is in flight so a double click
 * does not send the request twice.
 */
export async function act(label, fn, button) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    notice(`${label} failed: ${describe(e)}`, 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

/** displayName is a user's name, or its id when it has none. */
export const displayName = (u) => (u && (u.name || u.userId)) || 'someone';

/**
 * syncList makes list's children match items, one <li> per key, in order.
 * Rows are kept and updated in place rather than rebuilt: a click that
 * lands while a notification redraws the list still hits the same live
 * button (rebuilding swaps the node between mouse-down and mouse-up, and
 * the click is lost). build(item) makes a new row; update(row, item)
 * brings any row up to date.
 */
export function syncList(list, items, key, build, update) {
  const old = new Map([...list.children].map((n) => [n.dataset.key, n]));
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let row = old.get(k);
    old.delete(k);
    if (!row) {
      row = build(item);
      row.dataset.key = k;
    }
    update(row, item);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== row) list.insertBefore(row, want);
    prev = row;
  }
  for (const row of old.values()) row.remove();
}

/** show sets a row button's label and whether it is offered, keeping its place. */
export function show(button, offered, label, title) {
  button.classList.toggle('off', !offered);
  if (label !== undefined && button.textContent !== label) button.textContent = label;
  if (title !== undefined) button.title = title;
}
