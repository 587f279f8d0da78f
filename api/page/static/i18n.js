// The page's texts from the server's one catalogue (/page/messages, both languages). The
// language: the reader's choice on the page (kept in localStorage), else the browser's
// Accept-Language as the server read it, else the park's own language, else zh-CN.
const CHOSEN = "parkcarbon.lang";
export const LANGS = ["zh-CN", "en"];
const state = { texts: null, accepted: null, lang: "zh-CN" };

export async function load() {
  const r = await fetch("/page/messages", { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`/page/messages: ${r.status}`);
  const body = await r.json();
  state.texts = body.messages;
  state.accepted = body.accepted;
  state.lang = choose(null);
}

// parkLanguage: the park's default (null until the context is read).
export function choose(parkLanguage) {
  const stored = localStorage.getItem(CHOSEN);
  const lang = [stored, state.accepted, parkLanguage].find((l) => LANGS.includes(l)) ?? "zh-CN";
  state.lang = lang;
  document.documentElement.lang = lang;
  return lang;
}

export function remember(lang) {
  if (!LANGS.includes(lang)) return;
  localStorage.setItem(CHOSEN, lang);
  state.lang = lang;
  document.documentElement.lang = lang;
}

export const lang = () => state.lang;

export function has(key) {
  return Boolean(state.texts?.[state.lang]?.[key]);
}

// A key the catalogue lacks shows as the key itself, so a test of the page finds it.
export function t(key, params = {}) {
  const text = state.texts?.[state.lang]?.[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// A code from the API (a rule, a state, a reason) in words, or the code when it has none.
export function term(prefix, code) {
  const key = `${prefix}.${code}`;
  return has(key) ? t(key) : code;
}

// Every static text of the page: data-i18n (text), data-i18n-aria (aria-label),
// data-i18n-title (title); {unit} in a text is the tCO2e unit of the language.
export function apply(root = document) {
  const params = { unit: t("unit.tCO2e") };
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n, params);
  for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria, params));
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.setAttribute("title", t(node.dataset.i18nTitle, params));
  document.title = t("page.title");
}
