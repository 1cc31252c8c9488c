// The studio's HTTP API (docs/web.md). Same origin: the token cookie, if any, goes along.
async function check(response) {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
  throw new Error(message);
}

export async function getJSON(url) { return (await check(await fetch(url))).json(); }

export async function postForm(url, form) {
  return (await check(await fetch(url, { method: "POST", body: form }))).json();
}

export async function postForBlob(url, form) {
  return (await check(await fetch(url, { method: "POST", body: form }))).blob();
}

export async function remove(url) { return (await check(await fetch(url, { method: "DELETE" }))).json(); }

// Follow a job's Server-Sent Events; `on(type, data)` for each; closes after the last one.
export function follow(id, on) {
  const source = new EventSource(`/api/jobs/${id}/events`);
  const FINISHED = ["done", "failed", "cancelled", "interrupted"];
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
