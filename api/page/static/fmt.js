// Exact decimal arithmetic on the API's decimal strings (BigInt at 6 places, the API's own
// precision: 1 g of CO2e), and the one way the page writes a number: trailing zeros trimmed,
// the unit beside it. Floats never touch a figure, so the page shows what the API computed.
// Written for the reader's language as accounting/locale_format.py writes it on the server:
// thousands grouped with ",", units from the catalogue (tCO2e is 吨二氧化碳当量 in zh-CN),
// dates 2026年12月4日 / 4 Dec 2026, 24-hour times.
import { has, lang, t } from "./i18n.js";

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
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

export function grouped(text) {
  // "12345.678" -> "12,345.678"; the digits themselves are never changed.
  const [whole, frac] = text.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace(/^-/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}${frac === undefined ? "" : `.${frac}`}`;
}

export function unit(name) {
  return has(`unit.${name}`) ? t(`unit.${name}`) : name;
}

export function qty(value, name) {
  return value === null || value === undefined ? "–" : `${grouped(trim(String(value)))} ${unit(name)}`;
}

export function percent(share) {
  // A share 0..1 with up to 6 places as a percentage, exactly: "0.9167" -> "91.67 %".
  if (share === null || share === undefined) return "–";
  const shown = trim(unscaled(scaled(share), PLACES - 2));
  return lang() === "zh-CN" ? `${shown}%` : `${shown} %`;
}

export function asNumber(text) {
  return Number(text); // charts only: a bar's length or a point's height, never a figure
}

const pad = (n) => String(n).padStart(2, "0");

export function time(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`; // the browser's time zone
}

export function day(iso) {
  const d = new Date(iso);
  return lang() === "zh-CN"
    ? `${d.getMonth() + 1}月${d.getDate()}日`
    : `${d.getDate()} ${MONTHS_EN[d.getMonth()]}`;
}

export function stamp(iso) {
  return `${day(iso)} ${time(iso)}`;
}
