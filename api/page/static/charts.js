// Hand-written SVG charts (no library): a line over time, and a bar for a table cell.
import { time } from "./fmt.js";

const NS = "http://www.w3.org/2000/svg";

function node(name, attrs, text) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// points: [{t: ms, v: number}] sorted by t; the x axis spans [from, to) in ms.
export function lineChart(container, points, from, to, label) {
  const w = Math.max(container.clientWidth || 600, 200);
  const h = 120;
  const pad = { l: 44, r: 8, t: 8, b: 18 };
  const max = Math.max(...points.map((p) => p.v), 0) || 1;
  const x = (t) => pad.l + ((t - from) / (to - from)) * (w - pad.l - pad.r);
  const y = (v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
  const svg = node("svg", { viewBox: `0 0 ${w} ${h}`, "aria-hidden": "true", focusable: "false" });
  svg.append(node("line", { class: "axis", x1: pad.l, x2: w - pad.r, y1: h - pad.b, y2: h - pad.b }));
  svg.append(node("text", { x: pad.l - 4, y: pad.t + 8, "text-anchor": "end" }, max.toPrecision(3)));
  svg.append(node("text", { x: pad.l - 4, y: h - pad.b, "text-anchor": "end" }, "0"));
  for (const t of [from, to]) {
    const at = time(t);
    const anchor = t === from ? "start" : "end";
    svg.append(node("text", { x: x(t), y: h - 4, "text-anchor": anchor }, at));
  }
  if (points.length) {
    const xy = points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    const base = h - pad.b;
    const first = x(points[0].t).toFixed(1);
    const last = x(points[points.length - 1].t).toFixed(1);
    svg.append(node("polygon", { class: "area", points: `${first},${base} ${xy.join(" ")} ${last},${base}` }));
    svg.append(node("polyline", { class: "line", points: xy.join(" ") }));
  }
  container.replaceChildren(svg);
  container.setAttribute("aria-label", label);
}

export function bar(share) {
  const el = document.createElement("div");
  el.className = "bar";
  el.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`; // CSSOM: allowed by the CSP
  return el;
}
