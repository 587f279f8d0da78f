// Renders API responses into the page's sections. Figures are the API's strings, trimmed.
import { bar, lineChart } from "./charts.js";
import { $, el, figure, fill, td } from "./dom.js";
import { asNumber, percent, qty, stamp, sum, time } from "./fmt.js";

const T = "tCO2e";
const FINAL = new Set(["closed", "dismissed"]);

export function hour(body, from, to) {
  const values = body.items.map((i) => i.tco2e);
  const total = sum(values);
  figure($("#hour-total"), qty(total, T), total, { from: from.toISOString(), to: to.toISOString() });
  $("#hour-range").textContent =
    `Sum of ${values.length} one-minute windows, ${time(from)}–${time(to)}`;
  const points = body.items.map((i) => ({ t: Date.parse(i.bucket_start), v: asNumber(i.tco2e) }));
  lineChart($("#hour-chart"), points, from.getTime(), to.getTime(),
    `tCO2e per minute from ${time(from)} to ${time(to)}; total ${qty(total, T)}`);
}

export function today(park, parkDay, progress) {
  const item = parkDay.items[0];
  const total = item ? item.tco2e : null;
  figure($("#today-total"), item ? qty(total, T) : `0 ${T}`, total ?? "0.000000",
    { from: park.today_start, to: park.today_end });
  $("#today-range").textContent =
    `${park.name}: local day of ${park.timezone}, from ${stamp(park.today_start)}`;
  const rows = [];
  for (const t of progress.items) {
    for (const [kind, p] of [["absolute", t.absolute], ["intensity", t.intensity]]) {
      if (!p) continue;
      rows.push(el("tr", { data: { target: String(t.target_id), kind } },
        el("th", { scope: "row" }, `${t.period_kind} from ${t.period_start}`),
        td(p.actual ? qty(p.actual.value, p.actual.unit) : "–", { value: p.actual?.value, cls: "num actual" }),
        td(qty(p.limit.value, p.limit.unit), { value: p.limit.value, cls: "num limit" }),
        td(percent(p.used_share), { value: p.used_share, cls: "num used" }),
        td(p.projected ? qty(p.projected.value, p.projected.unit) : "–",
          { value: p.projected?.value, cls: "num projected" }),
        td(p.on_track === null ? "–" : p.on_track ? "yes" : "no",
          { cls: p.on_track === false ? "bad" : "ok" })));
    }
  }
  fill($("#progress tbody"), rows, "No target in force", 6);
}

function intensityText(item) {
  if (!item) return "–";
  const parts = item.outputs.map((o) => (o.intensity ? qty(o.intensity.value, o.intensity.unit) : `no ${o.output.unit}`));
  return parts.length ? parts.join(" · ") : "no output metered";
}

export function enterprises(park, byEnterprise, intensity) {
  const tco2e = new Map(byEnterprise.items.map((i) => [i.group.enterprise, i.tco2e]));
  const per = new Map(intensity.items.map((i) => [i.enterprise_id, i]));
  const max = Math.max(...[...tco2e.values()].map(asNumber), 0) || 1;
  const rows = park.enterprises.map((e) => {
    const v = tco2e.get(e.enterprise_id) ?? null;
    return el("tr", { data: { enterprise: e.enterprise_id } },
      el("th", { scope: "row", title: e.enterprise_id }, e.name),
      td(v === null ? "–" : qty(v, T), { value: v, cls: "num tco2e" }),
      el("td", {}, bar(v === null ? 0 : asNumber(v) / max)),
      td(intensityText(per.get(e.enterprise_id)), { cls: "intensity" }));
  });
  fill($("#enterprises tbody"), rows, "No enterprise", 4);
}

function reasons(counts) {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([r, n]) => `${r} ${n}`).join(" · ") : "none";
}

export function quality(park, parkDay, q) {
  const names = new Map(park.enterprises.map((e) => [e.enterprise_id, e.name]));
  const all = {};
  let overdue = 0, soon = 0, meters = 0;
  for (const e of q.enterprises) {
    overdue += e.calibration_overdue; soon += e.calibration_due_soon; meters += e.meters;
    for (const [r, n] of Object.entries(e.rejected)) all[r] = (all[r] || 0) + n;
  }
  const completeness = parkDay.items[0]?.completeness ?? null;
  const strip = [
    ["Completeness", percent(completeness), "completeness"],
    ["Rejected readings", reasons(all), "rejected"],
    ["Calibration overdue", `${overdue} of ${meters} meters`, "overdue"],
    ["Calibration due within 30 d", `${soon} meters`, "due-soon"],
  ];
  $("#quality-strip").replaceChildren(...strip.map(([dt, dd, id]) =>
    el("div", {}, el("dt", {}, dt), el("dd", { data: { q: id }, class: id === "overdue" && overdue ? "bad" : null }, dd))));
  const rows = q.enterprises.map((e) => el("tr", { data: { enterprise: e.enterprise_id } },
    el("th", { scope: "row" }, names.get(e.enterprise_id) ?? e.enterprise_id),
    td(String(e.meters), { cls: "num" }),
    td(percent(e.completeness), { value: e.completeness, cls: "num completeness" }),
    td(reasons(e.rejected), { cls: "rejected" }),
    td(String(e.calibration_overdue), { cls: `num overdue ${e.calibration_overdue ? "bad" : ""}` }),
    td(String(e.calibration_due_soon), { cls: "num due-soon" })));
  fill($("#quality tbody"), rows, "No meters", 6);
}

export function alerts(items) {
  const rows = items.map((a) => el("tr", { data: { alertId: a.alert_id } },
    td(stamp(a.first_raised_at)),
    td(a.rule),
    td(`${a.subject_kind} ${a.subject_id}`),
    td(`${qty(String(a.measured), a.unit)} (expected ${qty(String(a.expected), a.unit)})`, { cls: "measured" }),
    el("td", {}, el("span", { class: `state ${a.state}` }, a.state)),
    td(a.ticket_id ? `#${a.ticket_id}` : "–")));
  fill($("#alerts tbody"), rows, "No open alert", 6);
}

export function tickets(items, open) {
  const rows = items.filter((t) => !FINAL.has(t.state)).map((t) => el("tr", { data: { ticketId: String(t.ticket_id) } },
    el("td", {}, el("button", { type: "button", class: "linklike", onclick: () => open(t.ticket_id),
      "aria-controls": "ticket-view" }, `#${t.ticket_id}`), " ", t.title),
    td(`${t.subject_kind} ${t.subject_id}`),
    el("td", { class: "state-cell" }, el("span", { class: `state ${t.state}` }, t.state)),
    td(stamp(t.opened_at)),
    td(t.overdue ? "overdue" : "no", { cls: t.overdue ? "bad" : null })));
  fill($("#tickets tbody"), rows, "No open ticket", 5);
}

function detailText(detail) {
  return Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
}

export function ticket(t) {
  $("#ticket-title").textContent = `#${t.ticket_id}: ${t.title}`;
  $("#ticket-summary").replaceChildren(
    "State ", el("span", { class: `state ${t.state}`, id: "ticket-state" }, t.state),
    ` · ${t.occurrences.length} alert step(s) · ${t.actions.length} action(s)`,
    t.allowed_transitions.length ? ` · next: ${t.allowed_transitions.join(", ")}` : "");
  $("#ticket-history").replaceChildren(...t.history.map((h) => el("li", { data: { historyId: String(h.history_id), event: h.event } },
    el("time", { datetime: h.at }, stamp(h.at)), ` ${h.event}`,
    h.to_state ? ` ${h.from_state ?? "–"} → ${h.to_state}` : "",
    ` by ${h.actor}`,
    Object.keys(h.detail).length ? el("div", { class: "detail" }, detailText(h.detail)) : null)));
}
