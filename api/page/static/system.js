// The management-system page: what the carbon office has open (obligations due, audit findings,
// measures, management-review outputs), from GET /v1/management-system/open-items with the key
// of the live page (#key=pck_... or the form, kept in this tab's sessionStorage). A register the
// platform does not keep yet shows "none".
import { client } from "./api.js";
import { $, el } from "./dom.js";

const KEY = "parkcarbon.key";

function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("key")) sessionStorage.setItem(KEY, params.get("key"));
  // Out of the address bar and the history: the key stays in this tab only.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

function section(s) {
  const rows = s.items.map((i) =>
    el("tr", { data: { source: i.source, record: i.record_id } },
      el("td", {}, i.title),
      el("td", {}, i.due_on ?? "–"),
      el("td", {}, i.state),
      el("td", {}, i.enterprise_id ?? "park"),
    ));
  const body = s.items.length
    ? el("table", {},
        el("thead", {}, el("tr", {}, ...["Item", "Due", "State", "Owner"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows))
    : el("p", { class: "note empty" }, "none");
  return el("section", { class: "card", id: `s-${s.key}`, "aria-labelledby": `h-${s.key}` },
    el("h2", { id: `h-${s.key}` }, `${s.title} (${s.clause})`),
    s.available ? null : el("p", { class: "note" }, "This register is not kept by the platform yet."),
    body);
}

async function show() {
  const key = sessionStorage.getItem(KEY);
  if (!key) return;
  $("#status").textContent = "Loading…";
  try {
    const found = await client(key)("/v1/management-system/open-items");
    $("#sections").replaceChildren(...found.sections.map(section));
    $("#status").textContent = "Up to date";
    $("#error").hidden = true;
  } catch (e) {
    $("#error").textContent = e.message;
    $("#error").hidden = false;
    $("#status").textContent = "Not loaded";
  } finally {
    $("#sections").setAttribute("aria-busy", "false");
  }
}

$("#key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("#key-input");
  if (input.value) sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  show();
});
takeFragment();
show();
