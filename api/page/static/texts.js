// The page's visible texts for the comparison, flow and heatmap views, in one catalogue keyed
// by name: the markup names a text with data-text="key", the scripts with text(key, values).
// "{name}" in a text is replaced by values[name]. A key missing here throws, so a view never
// shows a blank where a word should be.
export const TEXTS = {
  en: {
    "compare.title": "Today so far against earlier periods",
    "compare.note": "Counted tCO2e from the park's local midnight to {until}, set beside the same hours one year (year on year) and one month (month on month) earlier",
    "compare.yoy": "Year on year",
    "compare.mom": "Month on month",
    "compare.earlier": "{date}: {value}",
    "compare.none": "no data for {date}",
    "compare.missing": "no such day",
    "compare.up": "up {pct} ({change})",
    "compare.down": "down {pct} ({change})",
    "compare.flat": "unchanged",
    "compare.no-pct": "change {change}",
    "flow.title": "Energy flow today",
    "flow.note": "Park → enterprise → energy carrier → source category; widths are counted tCO2e, labels add tce (GB/T 2589-2020)",
    "flow.empty": "No emission today yet",
    "flow.chart": "Energy flow of today from the park through {enterprises} enterprises to {categories} source categories; {total} in all",
    "flow.node": "{name}: {tco2e}, {tce}",
    "flow.link": "{source} → {target}: {tco2e}, {tce}",
    "flow.level.park": "Park",
    "flow.level.enterprise": "Enterprise",
    "flow.level.carrier": "Energy carrier",
    "flow.level.source_category": "Source category",
    "flow.no-tce": "no tce",
    "heatmap.title": "Hour of day × day, last 7 days",
    "heatmap.note": "Counted tCO2e per park-local hour; darker is more. Hours without stored windows are blank",
    "heatmap.chart": "tCO2e per hour of the day for the {days} days from {first} to {last}; the largest hour {max}",
    "heatmap.cell": "{day} {hour}:00, {value}",
    "heatmap.legend": "0 to {max} per hour",
    "heatmap.empty": "No hour window in the last 7 days",
  },
};

const LANGUAGE = "en";

export function text(key, values = {}) {
  const found = TEXTS[LANGUAGE][key];
  if (found === undefined) throw new Error(`no page text ${key}`);
  return found.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// Every element marked data-text="key" gets its text.
export function applyTexts(root = document) {
  for (const node of root.querySelectorAll("[data-text]")) node.textContent = text(node.dataset.text);
}
