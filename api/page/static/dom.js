// Small DOM builders: every figure cell carries the API's exact value in data-value.
export const $ = (sel) => document.querySelector(sel);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function td(text, { value, cls } = {}) {
  return el("td", { class: cls, data: value === undefined || value === null ? {} : { value } }, text);
}

export function fill(tbody, rows, empty, columns) {
  if (rows.length) tbody.replaceChildren(...rows);
  else tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: columns }, empty)));
}

export function figure(node, text, value, attrs = {}) {
  node.textContent = text;
  if (value === null || value === undefined) delete node.dataset.value;
  else node.dataset.value = value;
  Object.assign(node.dataset, attrs);
}
