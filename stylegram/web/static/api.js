// The studio's HTTP API (docs/web.md). Same origin: the token cookie, if any, goes along.
async function check(response) {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
  throw new Error(message);
}

// Integers beyond 2^53 (a seed) are read as BigInts, with their digits, where the browser shows
// a number's source text to JSON.parse (Chrome 114+); elsewhere they round, as JSON.parse does.
const exact = (key, value, context) =>
  Number.isInteger(value) && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? "")
    ? BigInt(context.source) : value;

export async function getJSON(url) { return JSON.parse(await (await check(await fetch(url))).text(), exact); }

export async function postForm(url, form) {
  return (await check(await fetch(url, { method: "POST", body: form }))).json();
}

export async function postJSON(url, text) {
  return (await check(await fetch(url, { method: "POST", body: text, headers: { "content-type": "application/json" } }))).json();
}

export async function postForBlob(url, form) {
  return (await check(await fetch(url, { method: "POST", body: form }))).blob();
}

export async function remove(url) { return (await check(await fetch(url, { method: "DELETE" }))).json(); }

// The states a job ends in.
export const FINISHED = ["done", "failed", "cancelled", "interrupted"];

// Follow a job's Server-Sent Events; `on(type, data)` for each; closes after the last one.
export function follow(id, on) {
  const source = new EventSource(`/api/jobs/${id}/events`);
  for (const type of ["snapshot", "state", "started", "progress", "done", "failed", "cancelled"]) {
    source.addEventListener(type, (e) => {
      const data = JSON.parse(e.data);
      on(type, data);
      const state = type === "snapshot" ? data.job.state : data.state;
      if (FINISHED.includes(state)) source.close();
    });
  }
  return source;
}
