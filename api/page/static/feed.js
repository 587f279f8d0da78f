// The live feed read with fetch() and a stream parser: EventSource cannot send the
// Authorization header. Reconnects with exponential backoff (1 s .. 30 s), reset by `hello`.
const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

function* parse(state, chunk) {
  // text/event-stream: fields per line, an event per blank line (WHATWG HTML, 9.2.6).
  state.buffer += chunk;
  const lines = state.buffer.split(/\r\n|\r|\n/);
  state.buffer = lines.pop();
  for (const line of lines) {
    if (line === "") {
      if (state.data.length) yield { type: state.type || "message", data: state.data.join("\n") };
      state.type = "";
      state.data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") state.type = value;
    else if (field === "data") state.data.push(value);
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

export function openFeed({ url, key, onEvent, onStatus, onReconnect }) {
  const stop = new AbortController();
  let delay = MIN_DELAY_MS;
  let opened = false;
  (async () => {
    while (!stop.signal.aborted) {
      try {
        onStatus("connecting");
        const r = await fetch(url, {
          headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
          cache: "no-store",
          signal: stop.signal,
        });
        if (r.status === 401 || r.status === 403) { onStatus("refused", r.status); return; }
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        const state = { buffer: "", type: "", data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parse(state, value)) {
            if (event.type === "hello") {
              delay = MIN_DELAY_MS;
              onStatus("live");
              if (opened) onReconnect(); // events were missed while away: re-read everything
              opened = true;
              continue;
            }
            let data;
            try { data = JSON.parse(event.data); } catch { continue; }
            onEvent(event.type, data);
          }
        }
      } catch (err) {
        if (stop.signal.aborted) return;
      }
      onStatus("retry", delay);
      await sleep(delay, stop.signal);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  })();
  return () => stop.abort();
}
