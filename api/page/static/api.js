// Calls to the parkcarbon API with the page's key (Authorization: Bearer), JSON in and out.
export class ApiFailure extends Error {
  constructor(status, detail, path) {
    super(`${path}: ${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

export function client(key) {
  return async function get(path, params = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(params)) {
      for (const item of [].concat(value)) {
        if (item !== undefined && item !== null) url.searchParams.append(name, String(item));
      }
    }
    const r = await fetch(url, {
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
    });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch { /* not a problem document */ }
      throw new ApiFailure(r.status, detail, url.pathname);
    }
    return r.json();
  };
}
