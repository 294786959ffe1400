// Small DOM helpers for a page that changes in place: every setter writes
// only when the value differs, and keyed lists keep one element per key, so
// an element someone holds (focus, a selection, a test's reference) stays
// the same element for as long as what it shows exists. Text only ever goes
// in through textContent, never as HTML.

// A new element: `class`, `data` (dataset), `on<event>` handlers, attributes.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "data") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// Sets the text when it differs (a text node is replaced only then).
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// Sets a property (hidden, disabled, className, checked, value) when it differs.
export function setProp(node, name, value) {
  if (node[name] !== value) node[name] = value;
}

// Sets an attribute when it differs; null or undefined removes it.
export function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== String(value)) {
    node.setAttribute(name, value);
  }
}

// Sets a data-* value when it differs; null or undefined removes it.
export function setData(node, name, value) {
  if (value === null || value === undefined) {
    if (name in node.dataset) delete node.dataset[name];
  } else if (node.dataset[name] !== String(value)) {
    node.dataset[name] = value;
  }
}

const lists = new WeakMap();

// Makes `parent`'s children one element per item, in order: an item whose
// key was there before keeps its element (updated in place), a new key gets
// a new one from `make(item)`, a key no longer there is removed. `make`
// returns `{ node, update(item) }`; `update` runs for new and kept items.
// Returns the views, in order.
export function syncList(parent, items, keyOf, make) {
  const before = lists.get(parent) || new Map();
  const after = new Map();
  for (const item of items) {
    const key = keyOf(item);
    const view = before.get(key) || after.get(key) || make(item);
    view.update(item);
    after.set(key, view);
  }
  for (const [key, view] of before) if (!after.has(key)) view.node.remove();
  let at = parent.firstChild;
  for (const view of after.values()) {
    if (view.node === at) at = at.nextSibling;
    else parent.insertBefore(view.node, at);
  }
  lists.set(parent, after);
  return [...after.values()];
}
