// The live page: the key from the address's fragment (#key=pck_..., never sent to the server)
// or the form, kept in sessionStorage; figures from the query API; the live feed tells which
// parts to read again (debounced), so the page always shows the API's own numbers.
import { ApiFailure, client } from "./api.js";
import { $ } from "./dom.js";
import { openFeed } from "./feed.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import * as render from "./render.js";
import * as views from "./views.js";

const KEY = "parkcarbon.key";
const PARK = "parkcarbon.park";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const app = { get: null, ctx: null, park: null, ticketId: null, stopFeed: null, runs: {}, status: null };

function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("key")) sessionStorage.setItem(KEY, params.get("key"));
  if (params.get("park")) sessionStorage.setItem(PARK, params.get("park"));
  // Out of the address bar, the history and any screenshot: the key stays in this tab only.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

function showError(err) {
  const box = $("#error");
  if (!err) { box.hidden = true; return; }
  box.hidden = false;
  box.textContent = err instanceof ApiFailure && err.status === 401
    ? t("page.err_key")
    : t("page.err_api", { message: err.message });
  if (err instanceof ApiFailure && err.status === 401) forget();
}

// One refresh per part at a time; an event during a run asks for one more run after it.
function schedule(name, fn, delayMs) {
  const run = (app.runs[name] ??= { timer: null, busy: false, again: false });
  if (run.timer) return;
  run.timer = setTimeout(async () => {
    run.timer = null;
    if (run.busy) { run.again = true; return; }
    run.busy = true;
    try { await fn(); showError(null); } catch (err) { showError(err); }
    run.busy = false;
    if (run.again) { run.again = false; schedule(name, fn, delayMs); }
  }, delayMs);
}

const enterpriseIds = () => app.park.enterprises.map((e) => e.enterprise_id);

async function loadContext() {
  app.ctx = await app.get("/page/context");
  const wanted = sessionStorage.getItem(PARK);
  app.park = app.ctx.parks.find((p) => p.park_id === wanted) ?? app.ctx.parks[0] ?? null;
  const select = $("#park-select");
  select.replaceChildren(...app.ctx.parks.map((p) => new Option(`${p.name} (${p.park_id})`, p.park_id)));
  if (app.park) select.value = app.park.park_id;
  $("#park-picker").hidden = app.ctx.parks.length < 2;
  // The park's own language counts only when neither the reader nor the browser chose one.
  i18n.choose(app.park?.language ?? null);
  showLanguage();
}

function showLanguage() {
  $("#lang-select").value = i18n.lang();
  i18n.apply();
  if (app.status) onStatus(...app.status);
}

async function refreshHour() {
  const to = new Date(Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE); // the current minute too
  const from = new Date(to.getTime() - 60 * MINUTE);
  const body = await app.get("/v1/emissions", {
    from: from.toISOString(), to: to.toISOString(), bucket: "1m", group_by: "park",
    park_id: app.park.park_id, limit: 100,
  });
  render.hour(body, from, to);
}

async function refreshToday() {
  if (Date.now() >= Date.parse(app.park.today_end)) await loadContext(); // a new local day
  const park = app.park;
  const ents = enterpriseIds();
  const day = { from: park.today_start, to: park.today_end };
  const none = { items: [], enterprises: [] };
  const subject = app.ctx.enterprise_id
    ? { subject_kind: "enterprise", subject_id: app.ctx.enterprise_id }
    : { subject_kind: "park", subject_id: park.park_id };
  const [parkDay, byEnterprise, intensity, quality, progress] = await Promise.all([
    app.get("/v1/emissions", { ...day, bucket: "1d", group_by: "park", park_id: park.park_id }),
    app.get("/v1/emissions", { ...day, bucket: "1d", group_by: "enterprise", park_id: park.park_id }),
    // No enterprise means "every enterprise" to the API: ask only with the park's own.
    ents.length ? app.get("/v1/intensity", { ...day, enterprise_id: ents }) : none,
    ents.length ? app.get("/v1/quality", { ...day, enterprise_id: ents, limit: 1 }) : none,
    app.get("/v1/progress", subject),
  ]);
  render.today(park, parkDay, progress);
  render.enterprises(park, byEnterprise, intensity);
  render.quality(park, parkDay, quality);
}

// Today so far (closed hour windows) against the same hours a year and a month earlier; the
// day's energy flow; the last seven local days hour by hour.
async function refreshViews() {
  const park = app.park;
  const start = Date.parse(park.today_start);
  const until = new Date(Math.max(Math.floor(Date.now() / HOUR) * HOUR, start + HOUR));
  const sofar = { from: park.today_start, to: until.toISOString(), bucket: "1d", group_by: "park", park_id: park.park_id };
  const first = new Date(start - 6 * DAY);
  const [yoy, mom, flow, heat] = await Promise.all([
    app.get("/v1/emissions", { ...sofar, compare: "yoy" }),
    app.get("/v1/emissions", { ...sofar, compare: "mom" }),
    app.get("/v1/energy-flows", { from: park.today_start, to: park.today_end, park_id: park.park_id }),
    app.get("/v1/heatmap", { from: first.toISOString(), to: park.today_end, park_id: park.park_id }),
  ]);
  views.comparison("yoy", yoy, park, until);
  views.comparison("mom", mom, park, until);
  views.flow(flow);
  const local = (ms) => new Date(ms).toLocaleDateString("en-CA", { timeZone: park.timezone }); // YYYY-MM-DD
  views.heatmap(heat, Array.from({ length: 7 }, (_, i) => local(start + (i - 6) * DAY + 12 * HOUR)));
}

async function refreshWork() {
  // By park, not per enterprise: a park-wide alert (an unknown meter has no enterprise) is the
  // park's too. An enterprise key still gets its own enterprise's only (tenancy).
  const park = { park_id: app.park.park_id, limit: 100 };
  const [alerts, tickets] = await Promise.all([
    app.get("/v1/alerts", { ...park, state: "open" }),
    app.get("/v1/tickets", park),
  ]);
  render.alerts(alerts.items, tickets.items);
  render.tickets(tickets.items, openTicket);
  if (app.ticketId !== null) await showTicket(app.ticketId);
}

async function showTicket(id) {
  render.ticket(await app.get(`/v1/tickets/${id}`));
  $("#ticket-view").hidden = false;
}

async function openTicket(id) {
  app.ticketId = id;
  try { await showTicket(id); showError(null); } catch (err) { showError(err); return; }
  $("#h-history").setAttribute("tabindex", "-1");
  $("#h-history").focus();
}

const refreshAll = () => Promise.all([refreshHour(), refreshToday(), refreshViews(), refreshWork()]);

function onEvent(kind, data) {
  const mine = data.enterprise_id && enterpriseIds().includes(data.enterprise_id);
  // No enterprise: a park-wide alert or ticket, which the feed sends to park-wide keys only.
  const parkWide = !data.enterprise_id;
  if (kind === "window" && mine) {
    // The live hour comes from 1-minute windows; the day from hour windows and, for the hour
    // in progress, from its 1-minute windows too (read again at most every few seconds).
    if (data.width_s === 60) { schedule("hour", refreshHour, 300); schedule("today", refreshToday, 5000); }
    if (data.width_s === 3600) {
      schedule("today", refreshToday, 1000);
      schedule("views", refreshViews, 5000);
    }
  } else if ((kind === "alert" || kind === "ticket") && (mine || parkWide || data.ticket_id === app.ticketId)) {
    schedule("work", refreshWork, 100);
  }
}

function onStatus(status, detail) {
  app.status = [status, detail];
  const node = $("#feed-status");
  node.className = `status ${status === "live" ? "live" : "down"}`;
  node.dataset.status = status;
  node.textContent = {
    connecting: () => t("page.feed_connecting"),
    live: () => t("page.feed_live"),
    retry: () => t("page.feed_retry", { seconds: Math.round((detail ?? 0) / 1000) }),
    refused: () => t("page.feed_refused", { status: detail }),
  }[status]();
}

async function start() {
  const key = sessionStorage.getItem(KEY);
  $("#key-forget").hidden = !key;
  if (!key) { $("#feed-status").textContent = t("page.enter_key"); return; }
  app.get = client(key);
  try {
    await loadContext();
    if (!app.park) throw new Error(t("page.no_park"));
    await refreshAll();
    showError(null);
  } catch (err) { showError(err); return; }
  $("#dashboard").setAttribute("aria-busy", "false");
  performance.mark("parkcarbon:data-rendered"); // page load time: navigation start to here
  document.body.dataset.ready = "true";
  app.stopFeed?.();
  app.stopFeed = openFeed({
    url: "/v1/live?kinds=window&kinds=alert&kinds=ticket", key, onEvent, onStatus,
    onReconnect: () => schedule("all", refreshAll, 0),
  });
}

function forget() {
  sessionStorage.removeItem(KEY);
  app.stopFeed?.();
  app.stopFeed = null;
  $("#key-forget").hidden = true;
}

$("#key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("#key-input");
  if (!input.value.trim()) return;
  sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  start();
});
$("#key-forget").addEventListener("click", () => { forget(); location.reload(); });
$("#park-select").addEventListener("change", (e) => {
  sessionStorage.setItem(PARK, e.target.value);
  app.ticketId = null;
  $("#ticket-view").hidden = true;
  start();
});

$("#lang-select").addEventListener("change", (e) => {
  i18n.remember(e.target.value);
  showLanguage();
  // Figures are written again in the new language from the API's own answers.
  if (app.park) schedule("all", refreshAll, 0);
});

async function boot() {
  takeFragment();
  try { await i18n.load(); } catch (err) { showError(err); return; }
  showLanguage();
  await start();
}

boot();
