// The endpoint list: status, variants, weights, instance counts, deployment and last failure.

import { api, poller } from "./data.js";
import { badge, empty, h, number, routeLink } from "./dom.js";

const REFRESH_MS = 3000;
let marked = false;

function variants(endpoint) {
  return h(
    "ul",
    { class: "variants" },
    endpoint.variants.map((v) =>
      h(
        "li",
        { "data-variant": v.name },
        h("span", { class: "variant-name" }, v.name),
        v.shadow ? h("span", { class: "tag" }, "shadow") : null,
        " ",
        h("span", { class: "muted" }, v.instanceType || ""),
        " ",
        h(
          "span",
          { class: "count", title: "instances: current / desired" },
          `${v.currentCount}/${v.desiredCount}`,
        ),
        " ",
        h("span", { class: "weight", title: "weight: current (desired)" }, `w ${number(v.weight)}`),
        v.desiredWeight !== v.weight ? h("span", { class: "muted" }, ` (→ ${number(v.desiredWeight)})`) : null,
      ),
    ),
  );
}

function deployment(summary) {
  if (!summary) return "";
  const text = `${summary.rollingBack ? "Rollback" : "Step"} ${summary.step}/${summary.steps}: ${summary.stepName || ""}`;
  return h("span", { class: summary.rollingBack ? "deploy rolling-back" : "deploy" }, text, " ", badge(summary.phase));
}

function row(endpoint) {
  return h(
    "tr",
    { "data-endpoint": endpoint.name },
    h("td", {}, routeLink(["endpoints", endpoint.name], endpoint.name, { class: "endpoint-link" })),
    h("td", {}, badge(endpoint.status)),
    h("td", {}, variants(endpoint)),
    h("td", { class: "num" }, number(endpoint.invocationsPerSecond)),
    h("td", { class: "num" }, endpoint.components ? String(endpoint.components) : ""),
    h("td", {}, deployment(endpoint.deployment)),
    h("td", { class: "failure" }, endpoint.failureReason || ""),
  );
}

export function listPage(root) {
  const summary = h("p", { class: "muted" }, "Loading…");
  const body = h("tbody", {});
  const table = h(
    "table",
    { id: "endpoints", class: "list" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Endpoint", "Status", "Variants (type, instances, weight)", "Invocations/s", "Components", "Deployment", "Last failure"].map((t) =>
          h("th", {}, t),
        ),
      ),
    ),
    body,
  );
  root.replaceChildren(h("h1", {}, "Endpoints"), summary, table);
  return poller(async (stopped) => {
    const doc = await api("/ui/api/endpoints");
    if (stopped()) return;
    body.replaceChildren(...doc.endpoints.map(row));
    table.setAttribute("data-rows", String(doc.endpoints.length));
    summary.replaceChildren(
      doc.endpoints.length ? `${doc.endpoints.length} endpoints in ${doc.region}, account ${doc.accountId}` : empty("No endpoints yet."),
    );
    if (!marked) {
      // How long the first full list took from navigation (bench/dashboard.py reads it).
      marked = true;
      performance.mark("endpoints-rendered");
    }
  }, REFRESH_MS);
}
