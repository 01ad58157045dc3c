// Fetching the dashboard's JSON documents, and refreshing a page by polling them.

import { h } from "./dom.js";

export class SignedOut extends Error {}

// GET a JSON document of /ui/api/; a refused session sends the browser to the login page.
export async function api(path) {
  const response = await fetch(path, {
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json" },
  });
  if (response.status === 401 || response.status === 403) {
    location.assign("/");
    throw new SignedOut("The session has ended.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body && body.message ? body.message : `HTTP ${response.status}`);
  }
  return body;
}

export function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.replaceChildren(text ? h("p", { class: "notice" }, text) : "");
}

// Runs task now and then every intervalMs after each run ends; returns the function that stops it.
export function poller(task, intervalMs) {
  let stopped = false;
  let timer = null;
  async function run() {
    if (stopped) return;
    try {
      await task(() => stopped);
      showNotice(null);
    } catch (error) {
      if (!(error instanceof SignedOut)) showNotice(`Could not refresh: ${error.message}`);
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  }
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
