// The server's API. Every URL is relative to the page, /TOKEN/, so the token travels with it.

async function reply(response) {
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function post(path, body, type = "application/json") {
  const data = type === "application/json" ? JSON.stringify(body) : body;
  return fetch(path, { method: "POST", headers: { "Content-Type": type }, body: data }).then(reply);
}

export const newSession = (settings) => post("api/session", settings);
export const control = (session, action, settings) =>
  post(`api/control?session=${session}`, settings ? { action, settings } : { action });
export const frame = (session, run, since, steps) =>
  fetch(`api/frame?session=${session}&run=${run}&since=${since}&steps=${steps}`).then(reply);
export const upload = (file) => post(`api/upload?name=${encodeURIComponent(file.name)}`, file, "text/csv");
export const closeSession = (session) => navigator.sendBeacon(`api/close?session=${session}`);
export const downloadUrl = (session, what) => `api/${what}?session=${session}`;
