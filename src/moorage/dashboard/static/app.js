// The dashboard's entry point: hash routes (#/ the list, #/endpoints/NAME one endpoint) and logout.

import { api } from "./data.js";
import { listPage } from "./list.js";
import { endpointPage } from "./endpoint.js";

const main = document.getElementById("main");
let stopPage = null;

function route() {
  if (stopPage) stopPage();
  const hash = location.hash.replace(/^#\/?/, "");
  const [page, ...rest] = hash.split("/");
  if (page === "endpoints" && rest.length === 1 && rest[0]) {
    let name = null;
    try {
      name = decodeURIComponent(rest[0]);
    } catch {
      name = null;
    }
    if (name) {
      stopPage = endpointPage(main, name);
      return;
    }
  }
  stopPage = listPage(main);
}

async function logout() {
  await fetch("/ui/logout", { method: "POST", credentials: "same-origin" }).catch(() => null);
  location.assign("/");
}

async function start() {
  const session = await api("/ui/api/session").catch(() => null);
  const button = document.getElementById("logout");
  if (session && session.loginRequired) {
    button.hidden = false;
    button.addEventListener("click", logout);
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
