// Renders API responses into the page's sections. Figures are the API's strings, trimmed.
import { bar, lineChart } from "./charts.js";
import { $, el, figure, fill, td } from "./dom.js";
import { asNumber, percent, qty, stamp, sum, time, unit } from "./fmt.js";
import { t, term } from "./i18n.js";

const T = "tCO2e";
const FINAL = new Set(["closed", "dismissed"]);

export function hour(body, from, to) {
  const values = body.items.map((i) => i.tco2e);
  const total = sum(values);
  figure($("#hour-total"), qty(total, T), total, { from: from.toISOString(), to: to.toISOString() });
  $("#hour-range").textContent =
    t("page.hour_range", { count: values.length, from: time(from), to: time(to) });
  const points = body.items.map((i) => ({ t: Date.parse(i.bucket_start), v: asNumber(i.tco2e) }));
  lineChart($("#hour-chart"), points, from.getTime(), to.getTime(),
    t("page.hour_chart_label", { unit: unit(T), from: time(from), to: time(to), total: qty(total, T) }));
}

export function today(park, parkDay, progress) {
  const item = parkDay.items[0];
  const total = item ? item.tco2e : null;
  figure($("#today-total"), item ? qty(total, T) : qty("0", T), total ?? "0.000000",
    { from: park.today_start, to: park.today_end });
  $("#today-range").textContent =
    t("page.today_range", { park: park.name, timezone: park.timezone, start: stamp(park.today_start) });
  const rows = [];
  for (const g of progress.items) {
    for (const [kind, p] of [["absolute", g.absolute], ["intensity", g.intensity]]) {
      if (!p) continue;
      rows.push(el("tr", { data: { target: String(g.target_id), kind } },
        el("th", { scope: "row" }, t("page.target_row", { period: term("period", g.period_kind), start: g.period_start })),
        td(p.actual ? qty(p.actual.value, p.actual.unit) : "–", { value: p.actual?.value, cls: "num actual" }),
        td(qty(p.limit.value, p.limit.unit), { value: p.limit.value, cls: "num limit" }),
        td(percent(p.used_share), { value: p.used_share, cls: "num used" }),
        td(p.projected ? qty(p.projected.value, p.projected.unit) : "–",
          { value: p.projected?.value, cls: "num projected" }),
        td(p.on_track === null ? "–" : t(p.on_track ? "common.yes" : "common.no"),
          { cls: p.on_track === false ? "bad" : "ok" })));
    }
  }
  fill($("#progress tbody"), rows, t("page.no_target"), 6);
}

function intensityText(item) {
  if (!item) return "–";
  const parts = item.outputs.map((o) => (o.intensity ? qty(o.intensity.value, o.intensity.unit) : t("page.no_output_unit", { unit: o.output.unit })));
  return parts.length ? parts.join(" · ") : t("page.no_output");
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
  fill($("#enterprises tbody"), rows, t("page.no_enterprise"), 4);
}

function reasons(counts) {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([r, n]) => `${term("reason", r)} ${n}`).join(" · ") : t("common.none");
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
    [t("page.col_completeness"), percent(completeness), "completeness"],
    [t("page.col_rejected"), reasons(all), "rejected"],
    [t("page.col_cal_overdue"), t("page.q_overdue_of", { overdue, meters }), "overdue"],
    [t("page.q_cal_soon"), t("page.q_meters", { count: soon }), "due-soon"],
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
  fill($("#quality tbody"), rows, t("page.no_meters"), 6);
}

// tickets: the page's tickets, to find incidents. The alerts of one incident (the meters behind
// one gateway, one ticket) are one line with their count, not one line per meter.
export function alerts(items, tickets = []) {
  const incidents = new Map(tickets.filter((k) => k.subject_kind === "gateway").map((k) => [k.ticket_id, k]));
  const lines = [];
  const grouped = new Map();
  for (const a of items) {
    const incident = incidents.get(a.ticket_id);
    if (!incident) { lines.push({ a, members: 1 }); continue; }
    const line = grouped.get(a.ticket_id);
    if (line) { line.members += 1; continue; }
    const fresh = { a, members: 1, incident };
    grouped.set(a.ticket_id, fresh);
    lines.push(fresh);
  }
  const rows = lines.map(({ a, members, incident }) => el("tr", { data: { alertId: a.alert_id, members: String(members) } },
    td(stamp(a.first_raised_at)),
    td(term("rule", a.rule), { cls: "rule" }),
    td(incident
      ? t("page.incident_members", { count: members, gateway: `${term("subject", incident.subject_kind)} ${incident.subject_id}` })
      : `${term("subject", a.subject_kind)} ${a.subject_id}`),
    td(incident && members > 1 ? "–" : t("page.measured_expected", { measured: qty(String(a.measured), a.unit), expected: qty(String(a.expected), a.unit) }), { cls: "measured" }),
    el("td", {}, el("span", { class: `state ${a.state}`, data: { state: a.state } }, term("alert_state", a.state))),
    td(a.ticket_id ? `#${a.ticket_id}` : "–")));
  fill($("#alerts tbody"), rows, t("page.no_alert"), 6);
}

// An alert's ticket is titled from its rule and subject in the reader's language; any other
// ticket keeps the title a person gave it.
function ticketTitle(k) {
  if (!k.rule) return k.title;
  return t("page.ticket_title", { rule: term("rule", k.rule), subject: `${term("subject", k.subject_kind)} ${k.subject_id}` });
}

export function tickets(items, open) {
  const rows = items.filter((k) => !FINAL.has(k.state)).map((k) => el("tr", { data: { ticketId: String(k.ticket_id) } },
    el("td", {}, el("button", { type: "button", class: "linklike", onclick: () => open(k.ticket_id),
      "aria-controls": "ticket-view" }, `#${k.ticket_id}`), " ", ticketTitle(k)),
    td(`${term("subject", k.subject_kind)} ${k.subject_id}`),
    el("td", { class: "state-cell" }, el("span", { class: `state ${k.state}`, data: { state: k.state } }, term("ticket_state", k.state))),
    td(stamp(k.opened_at)),
    td(k.overdue ? t("page.overdue") : t("common.no"), { cls: k.overdue ? "bad" : null })));
  fill($("#tickets tbody"), rows, t("page.no_ticket"), 5);
}

function detailText(detail) {
  return Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
}

export function ticket(k) {
  $("#ticket-title").textContent = `#${k.ticket_id}: ${ticketTitle(k)}`;
  $("#ticket-summary").replaceChildren(
    `${t("page.ticket_state")} `,
    el("span", { class: `state ${k.state}`, id: "ticket-state", data: { state: k.state } }, term("ticket_state", k.state)),
    t("page.ticket_counts", { occurrences: k.occurrences.length, actions: k.actions.length }),
    k.allowed_transitions.length
      ? t("page.ticket_next", { states: k.allowed_transitions.map((s) => term("ticket_state", s)).join(", ") })
      : "");
  $("#ticket-history").replaceChildren(...k.history.map((h) => el("li", { data: { historyId: String(h.history_id), event: h.event } },
    el("time", { datetime: h.at }, stamp(h.at)), ` ${term("event", h.event)}`,
    h.to_state ? ` ${h.from_state ? term("ticket_state", h.from_state) : "–"} → ${term("ticket_state", h.to_state)}` : "",
    ` ${t("page.by", { actor: h.actor })}`,
    Object.keys(h.detail).length ? el("div", { class: "detail" }, detailText(h.detail)) : null)));
}
