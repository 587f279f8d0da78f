// Exact decimal arithmetic on the API's decimal strings (BigInt at 6 places, the API's own
// precision: 1 g of CO2e), and the one way the page writes a number: trailing zeros trimmed,
// the unit beside it. Floats never touch a figure, so the page shows what the API computed.
const PLACES = 6;
const SCALE = 10n ** BigInt(PLACES);

export function scaled(text) {
  const s = String(text).trim();
  const neg = s.startsWith("-");
  const [whole, frac = ""] = s.replace(/^[-+]/, "").split(".");
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(frac) || frac.length > PLACES) {
    throw new Error(`not a decimal with at most ${PLACES} places: ${text}`);
  }
  const v = BigInt(whole) * SCALE + BigInt(frac.padEnd(PLACES, "0"));
  return neg ? -v : v;
}

export function unscaled(v, places = PLACES) {
  // v holds `places` decimals; e.g. unscaled(1234500n) = "1.234500".
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(places + 1, "0");
  const text = `${digits.slice(0, -places)}.${digits.slice(-places)}`;
  return neg ? `-${text}` : text;
}

export function sum(texts) {
  return unscaled(texts.reduce((acc, t) => acc + scaled(t), 0n));
}

export function trim(text) {
  if (!text.includes(".")) return text;
  return text.replace(/0+$/, "").replace(/\.$/, "");
}

export function qty(value, unit) {
  return value === null || value === undefined ? "–" : `${trim(String(value))} ${unit}`;
}

export function percent(share) {
  // A share 0..1 with up to 6 places as a percentage, exactly: "0.9167" -> "91.67 %".
  if (share === null || share === undefined) return "–";
  return `${trim(unscaled(scaled(share), PLACES - 2))} %`;
}

export function asNumber(text) {
  return Number(text); // charts only: a bar's length or a point's height, never a figure
}

export function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function stamp(iso) {
  const d = new Date(iso);
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time(iso)}`;
}
