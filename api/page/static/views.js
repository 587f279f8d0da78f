// The views operators compare and scan: today so far against a year and a month earlier
// (同比 / 环比, from /v1/emissions?compare=), the energy flow as a Sankey diagram (from
// /v1/energy-flows) and the hour-of-day x day heatmap (from /v1/heatmap). Figures are the
// API's decimal strings; numbers only size the shapes.
import { $, el, figure } from "./dom.js";
import { asNumber, qty, trim } from "./fmt.js";
import { lang, t, term } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const T = "tCO2e";

// The views' texts are the catalogue's page.compare.*, page.flow.* and page.heatmap.* keys.
const text = (key, values = {}) => t(`page.${key}`, values);

function svgNode(name, attrs = {}, ...children) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
    else node.setAttribute(k, String(v));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const tooltip = (label) => svgNode("title", {}, label);

function localDate(iso, timeZone) {
  return new Date(iso).toLocaleDateString(lang(), { timeZone, year: "numeric", month: "short", day: "numeric" });
}

function changeText(previous) {
  if (previous.change === null) return "";
  const change = qty(previous.change.replace(/^(?!-)/, "+"), T);
  if (previous.change_pct === null) return text("compare.no_pct", { change });
  const pct = `${trim(previous.change_pct.replace(/^-/, ""))} %`;
  const sign = asNumber(previous.change);
  if (sign === 0) return text("compare.flat");
  return text(sign > 0 ? "compare.up" : "compare.down", { pct, change });
}

// body: /v1/emissions with compare=yoy|mom, one park row (or none: nothing stored yet).
export function comparison(kind, body, park, until) {
  const row = body.items[0];
  const node = $(`#compare-${kind}`);
  const previous = row?.previous ?? null;
  $("#compare-note").textContent = text("compare.note", {
    until: new Date(until).toLocaleTimeString(lang(), { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  });
  if (!row || !previous) {
    figure(node.querySelector("output"), row ? text("compare.missing") : "–", null);
    node.querySelector(".earlier").textContent = "";
    node.dataset.state = row ? "missing" : "empty";
    return;
  }
  const date = localDate(previous.bucket_start, park.timezone);
  figure(node.querySelector("output"), changeText(previous) || text("compare.none", { date }),
    previous.change, { pct: previous.change_pct ?? "" });
  node.querySelector(".earlier").textContent = previous.tco2e === null
    ? text("compare.none", { date })
    : text("compare.earlier", { date, value: qty(previous.tco2e, T) });
  node.dataset.state = previous.change === null ? "none" : asNumber(previous.change) > 0 ? "up" : "down";
}

// A four-column Sankey diagram: nodes stacked per level, heights and link widths by tCO2e
// (removals, negative, are not drawn; their figures stay in the node's title).
export function flow(body) {
  const box = $("#flow-chart");
  const positive = (v) => Math.max(asNumber(v), 0);
  const nodes = body.nodes.filter((n) => positive(n.tco2e) > 0);
  const count = (kind) => body.nodes.filter((n) => n.kind === kind).length;
  if (!nodes.length) {
    box.replaceChildren(el("p", { class: "note" }, text("flow.empty")));
    box.setAttribute("aria-label", text("flow.empty"));
    return;
  }
  // Narrower than this the labels of four columns overlap: the card scrolls instead (phones).
  const w = Math.max(box.clientWidth || 600, 560);
  const perLevel = body.levels.map((k) => nodes.filter((n) => n.kind === k));
  const gap = 6, nodeW = 10, top = 16, h = Math.max(180, 36 * Math.max(...perLevel.map((l) => l.length)) + top);
  const total = Math.max(...perLevel.map((l) => l.reduce((s, n) => s + positive(n.tco2e), 0)));
  const scale = (h - top - gap * Math.max(...perLevel.map((l) => l.length))) / total;
  const colX = (i) => 4 + i * ((w - nodeW - 8) / (body.levels.length - 1));
  const at = new Map();
  const svg = svgNode("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "sankey", role: "presentation" });
  body.levels.forEach((kind, i) => {
    svg.append(svgNode("text", { x: i === 0 ? colX(i) : i === body.levels.length - 1 ? colX(i) + nodeW : colX(i) + nodeW / 2, y: 11,
      "text-anchor": i === 0 ? "start" : i === body.levels.length - 1 ? "end" : "middle", class: "level" },
      text(`flow.level.${kind}`)));
    let y = top;
    for (const n of perLevel[i]) {
      const height = Math.max(positive(n.tco2e) * scale, 1);
      at.set(n.id, { x: colX(i), y, h: height, out: 0, in: 0 });
      y += height + gap;
    }
  });
  // Carriers and source categories are codes: their words come from the catalogue.
  const label = (n) => n.name ?? (n.kind === "carrier" || n.kind === "source_category" ? term(n.kind, n.key) : n.key);
  const tceText = (v) => (v === null ? text("flow.no_tce") : qty(v, "tce"));
  const links = svgNode("g", { class: "links" });
  for (const l of body.links) {
    const a = at.get(l.source), b = at.get(l.target), v = positive(l.tco2e) * scale;
    if (!a || !b || v <= 0) continue;
    const y0 = a.y + a.out + v / 2, y1 = b.y + b.in + v / 2;
    a.out += v; b.in += v;
    const x0 = a.x + nodeW, x1 = b.x, mid = (x0 + x1) / 2;
    const src = body.nodes.find((n) => n.id === l.source), dst = body.nodes.find((n) => n.id === l.target);
    links.append(svgNode("path", { d: `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`,
      "stroke-width": Math.max(v, 1), data: { source: l.source, target: l.target, value: l.tco2e } },
      tooltip(text("flow.link", { source: label(src), target: label(dst), tco2e: qty(l.tco2e, T), tce: tceText(l.tce) }))));
  }
  svg.append(links);
  body.levels.forEach((kind, i) => {
    for (const n of perLevel[i]) {
      const p = at.get(n.id);
      const last = i === body.levels.length - 1;
      svg.append(svgNode("g", { class: `node ${kind}`, data: { node: n.id, value: n.tco2e, tce: n.tce ?? "" } },
        svgNode("rect", { x: p.x, y: p.y, width: nodeW, height: p.h }),
        svgNode("text", { x: last ? p.x - 3 : p.x + nodeW + 3, y: p.y + p.h / 2 + 4, "text-anchor": last ? "end" : "start" },
          `${label(n)} ${trim(n.tco2e)}`),
        tooltip(text("flow.node", { name: label(n), tco2e: qty(n.tco2e, T), tce: tceText(n.tce) }))));
    }
  });
  box.replaceChildren(svg);
  const park = body.nodes.find((n) => n.kind === "park");
  box.setAttribute("aria-label", text("flow.chart", {
    enterprises: count("enterprise"), categories: count("source_category"), total: qty(park?.tco2e ?? "0", T),
  }));
}

// days: the park-local dates (YYYY-MM-DD) to show, oldest first; cells from /v1/heatmap.
export function heatmap(body, days) {
  const box = $("#heatmap-chart");
  if (!body.cells.length) {
    box.replaceChildren(el("p", { class: "note" }, text("heatmap.empty")));
    box.setAttribute("aria-label", text("heatmap.empty"));
    $("#heatmap-legend").textContent = "";
    return;
  }
  const max = body.cells.reduce((m, c) => (asNumber(c.value) > asNumber(m) ? c.value : m), body.cells[0].value);
  const top = Math.max(asNumber(max), 1e-9);
  const left = 52, cell = 14, head = 14;
  const svg = svgNode("svg", { viewBox: `0 0 ${left + 24 * cell} ${head + days.length * cell}`, class: "heatmap", role: "presentation" });
  for (let hour = 0; hour < 24; hour += 3) {
    svg.append(svgNode("text", { x: left + hour * cell + cell / 2, y: 10, "text-anchor": "middle" }, String(hour)));
  }
  const row = new Map(days.map((d, i) => [d, i]));
  days.forEach((d, i) => svg.append(svgNode("text", { x: left - 4, y: head + i * cell + cell - 3, "text-anchor": "end" }, d.slice(5))));
  for (const c of body.cells) {
    const i = row.get(c.day);
    if (i === undefined || c.value === null) continue;
    const share = Math.max(asNumber(c.value), 0) / top;
    svg.append(svgNode("rect", { x: left + c.hour * cell, y: head + i * cell, width: cell - 1, height: cell - 1,
      class: "cell", "fill-opacity": (0.12 + 0.88 * share).toFixed(3), data: { day: c.day, hour: String(c.hour), value: c.value } },
      tooltip(text("heatmap.cell", { day: c.day, hour: String(c.hour).padStart(2, "0"), value: qty(c.value, body.unit) }))));
  }
  box.replaceChildren(svg);
  box.setAttribute("aria-label", text("heatmap.chart", { days: days.length, first: days[0], last: days.at(-1), max: qty(max, body.unit) }));
  $("#heatmap-legend").textContent = text("heatmap.legend", { max: qty(max, body.unit) });
}
