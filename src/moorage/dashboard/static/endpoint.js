// One endpoint: variants and fleets, live charts, deployment timeline, components and their
// placement, shadow tests, alarms, scaling activities and the model servers' log tail.

import { lineChart } from "./charts.js";
import { api, poller, showNotice, SignedOut } from "./data.js";
import { badge, dateTime, empty, h, number, routeLink, section, time } from "./dom.js";
import { componentsSection } from "./placement.js";
import { timelineSection } from "./timeline.js";

const REFRESH_MS = 3000;
const CHARTS_MS = 5000;
const LOGS_MS = 5000;

function table(id, headings, rows) {
  return h(
    "table",
    { class: "list", id },
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows),
  );
}

function header(doc) {
  const e = doc.endpoint;
  return h(
    "div",
    { class: "endpoint-head" },
    h("p", {}, routeLink([], "← All endpoints")),
    h("h1", {}, e.name, " ", badge(e.status)),
    h("p", { class: "muted" }, `${e.arn} · config ${e.config} · created ${dateTime(e.created)} · modified ${dateTime(e.modified)}`),
    e.failureReason ? h("p", { class: "failure", id: "failure-reason" }, e.failureReason) : null,
  );
}

function variantsSection(doc) {
  const e = doc.endpoint;
  const variants = table(
    "variants",
    ["Variant", "Instance type", "Instances (current/desired)", "Weight (desired)", "Status"],
    e.variants.map((v) =>
      h(
        "tr",
        { "data-variant": v.name },
        h("td", {}, v.name, v.shadow ? h("span", { class: "tag" }, "shadow") : null),
        h("td", {}, v.instanceType || "—"),
        h("td", { class: "num" }, `${v.currentCount}/${v.desiredCount}`),
        h("td", { class: "num" }, `${number(v.weight)} (${number(v.desiredWeight)})`),
        h(
          "td",
          {},
          v.statuses.length
            ? v.statuses.map((st) => h("div", {}, badge(st.status), " ", st.message || "", h("span", { class: "muted" }, ` since ${time(st.since)}`)))
            : "—",
        ),
      ),
    ),
  );
  const groups = table(
    "groups",
    ["Fleet", "Config", "Variant", "Instance type", "Instances", "In service", "Share of variant traffic"],
    doc.groups.map((g) =>
      h(
        "tr",
        { "data-group": g.id },
        h("td", {}, g.id),
        h("td", {}, g.config),
        h("td", {}, g.variant),
        h("td", {}, g.instanceType),
        h("td", { class: "num" }, String(g.instances)),
        h("td", { class: "num" }, String(g.inService)),
        h("td", { class: "num" }, `${number(100 * g.trafficShare)}%`),
      ),
    ),
  );
  return section("Variants", variants, h("h3", {}, "Fleets"), groups);
}

function chartsFor(doc) {
  const { start, end, period } = doc;
  const rangeEnd = Math.max(start + period, Math.ceil(end / period) * period);
  return doc.subjects.map((subject) =>
    h(
      "div",
      { class: "chart-row", "data-subject": subject.name },
      h("h3", {}, `${subject.kind === "component" ? "Component" : subject.kind === "shadow" ? "Shadow variant" : "Variant"} ${subject.name}`),
      h(
        "div",
        { class: "charts" },
        lineChart([{ name: "invocations/s", points: subject.series.invocationsPerSecond }], {
          start, end: rangeEnd, period, zero: true, title: "Invocations per second",
        }),
        lineChart(
          [
            { name: "p50", points: subject.series.p50LatencyMs },
            { name: "p99", points: subject.series.p99LatencyMs },
          ],
          { start, end: rangeEnd, period, zero: false, title: "Model latency (ms)" },
        ),
        lineChart(
          [
            { name: "4xx", points: subject.series.errors4xx },
            { name: "5xx", points: subject.series.errors5xx },
          ],
          { start, end: rangeEnd, period, zero: true, title: `Errors per ${period} s` },
        ),
      ),
    ),
  );
}

function experimentsSection(doc) {
  if (!doc.experiments.length) return null;
  return section(
    "Shadow tests",
    doc.experiments.map((x) =>
      h(
        "div",
        { class: "experiment", "data-experiment": x.name },
        h("h3", {}, x.name, " ", badge(x.status)),
        h("p", { class: "muted" }, `${dateTime(x.start)} → ${dateTime(x.end)} · ${x.samplingPercentage}% of requests copied to the shadow · figures of the last ${x.statsWindowSeconds / 60} minutes`),
        x.reason ? h("p", { class: "failure" }, x.reason) : null,
        h(
          "div",
          { class: "side-by-side" },
          x.variants.map((v) =>
            h(
              "div",
              { class: `side ${v.role}`, "data-role": v.role },
              h("h4", {}, `${v.role === "shadow" ? "Shadow" : "Production"}: ${v.variant}`),
              h(
                "dl",
                {},
                h("dt", {}, "Model"), h("dd", {}, v.model),
                h("dt", {}, "Instances"), h("dd", {}, `${v.instanceCount} × ${v.instanceType}`),
                h("dt", {}, "Status"), h("dd", {}, v.status || "—"),
                h("dt", {}, "Invocations"), h("dd", {}, `${v.stats.invocations} (${number(v.stats.invocationsPerSecond)}/s)`),
                h("dt", {}, "p50 / p99 latency"), h("dd", {}, `${number(v.stats.p50LatencyMs)} / ${number(v.stats.p99LatencyMs)} ms`),
                h("dt", {}, "Errors 4xx / 5xx"), h("dd", {}, `${v.stats.errors4xx} / ${v.stats.errors5xx}`),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function alarmsSection(doc) {
  return section(
    "Alarms",
    doc.alarms.length
      ? table(
          "alarms",
          ["Alarm", "State", "Metric", "Condition", "Reason", "Updated"],
          doc.alarms.map((a) =>
            h(
              "tr",
              { "data-alarm": a.name },
              h("td", {}, a.name, a.rollback ? h("span", { class: "tag" }, "rollback") : null),
              h("td", {}, badge(a.state)),
              h("td", {}, `${a.statistic || ""} ${a.metric || "(metric math)"} / ${a.period} s`),
              h("td", {}, `${a.comparison} ${a.threshold === null ? "" : number(a.threshold)}`),
              h("td", { class: "reason" }, a.reason),
              h("td", {}, time(a.updated)),
            ),
          ),
        )
      : empty("No alarms watch this endpoint."),
  );
}

function scalingSection(doc) {
  return section(
    "Scaling activities",
    doc.scaling.length
      ? table(
          "scaling",
          ["Started", "Resource", "Status", "Description", "Cause"],
          doc.scaling.map((a) =>
            h(
              "tr",
              {},
              h("td", {}, time(a.started)),
              h("td", {}, a.resourceId),
              h("td", {}, badge(a.status)),
              h("td", {}, a.description, a.message ? h("div", { class: "muted" }, a.message) : null),
              h("td", {}, a.cause),
            ),
          ),
        )
      : empty("No scaling activities."),
  );
}

function logLines(doc) {
  if (!doc.events.length) return empty("No log lines yet.");
  return h(
    "ol",
    { class: "log" },
    doc.events.map((e) =>
      h(
        "li",
        {},
        h("span", { class: "log-time" }, new Date(e.timestamp).toLocaleTimeString()),
        " ",
        h("span", { class: "log-stream", title: e.group }, e.stream),
        " ",
        h("span", { class: "log-message" }, e.message),
      ),
    ),
  );
}

export function endpointPage(root, name) {
  const query = `name=${encodeURIComponent(name)}`;
  const top = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  let minutes = 15;
  const chartBox = h("div", { id: "charts" });
  const windows = h(
    "div",
    { class: "windows" },
    [5, 15, 60].map((m) => {
      const button = h("button", { type: "button", "data-minutes": m, class: m === minutes ? "on" : "" }, `${m} min`);
      button.addEventListener("click", () => {
        minutes = m;
        for (const b of windows.querySelectorAll("button")) b.className = b === button ? "on" : "";
        refreshCharts().catch((error) => {
          if (!(error instanceof SignedOut)) showNotice(`Could not refresh: ${error.message}`);
        });
      });
      return button;
    }),
  );
  const rest = h("div", {});
  const logBox = h("div", { id: "logs" });
  root.replaceChildren(
    top,
    h("section", {}, h("h2", {}, "Invocations"), windows, chartBox),
    rest,
    h("section", {}, h("h2", {}, "Model server logs"), logBox),
  );
  async function refreshCharts() {
    const doc = await api(`/ui/api/metrics?${query}&minutes=${minutes}`);
    chartBox.replaceChildren(...chartsFor(doc));
  }
  const stops = [
    poller(async (stopped) => {
      const doc = await api(`/ui/api/endpoint?${query}`);
      if (stopped()) return;
      top.replaceChildren(header(doc), variantsSection(doc));
      rest.replaceChildren(
        ...[timelineSection(doc), componentsSection(doc), experimentsSection(doc), alarmsSection(doc), scalingSection(doc)].filter(Boolean),
      );
      root.setAttribute("data-loaded", doc.endpoint.name);
    }, REFRESH_MS),
    poller(async (stopped) => {
      if (!stopped()) await refreshCharts();
    }, CHARTS_MS),
    poller(async (stopped) => {
      const doc = await api(`/ui/api/logs?${query}`);
      if (stopped()) return;
      const follow = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
      logBox.replaceChildren(logLines(doc));
      if (follow) logBox.scrollTop = logBox.scrollHeight;
    }, LOGS_MS),
  ];
  return () => {
    for (const stop of stops) stop();
    root.removeAttribute("data-loaded");
  };
}
