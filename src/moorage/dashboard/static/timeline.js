// A deployment as a timeline: steps, bakes, the traffic split at each step, alarms, rollback.

import { bar } from "./charts.js";
import { badge, dateTime, empty, h, number, section, time } from "./dom.js";

function layouts(step) {
  return h(
    "table",
    { class: "layouts" },
    h("thead", {}, h("tr", {}, ["Variant", "Old (in service)", "New (in service)", "Traffic to new", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      step.layouts.map((l) =>
        h(
          "tr",
          { "data-variant": l.variant },
          h("td", {}, l.variant),
          h("td", { class: "num" }, `${l.oldInstances} (${l.oldInService})`),
          h("td", { class: "num" }, `${l.newInstances} (${l.newInService})`),
          h("td", { class: "num traffic" }, `${number(l.newTrafficPercent)}%`),
          h(
            "td",
            {},
            bar(
              [
                { value: 100 - l.newTrafficPercent, kind: "old" },
                { value: l.newTrafficPercent, kind: "new" },
              ],
              100,
              `${number(100 - l.newTrafficPercent)}% old, ${number(l.newTrafficPercent)}% new`,
            ),
          ),
        ),
      ),
    ),
  );
}

function step(item, index, current, rollback) {
  const waits = [];
  if (item.waitSeconds) waits.push(`${item.bake ? "bake" : "wait"} ${number(item.waitSeconds)} s`);
  const live = current && current.rollingBack === rollback && current.step === index;
  let note = null;
  if (live && current.waitEnds) {
    note = h("span", { class: "muted" }, ` ${current.baking ? "baking" : "waiting"} until ${time(current.waitEnds)}`);
  } else if (live) {
    note = h("span", { class: "muted" }, ` ${current.phase} since ${time(current.since)}`);
  }
  return h(
    "li",
    { class: `step ${item.state}${rollback ? " rollback" : ""}`, "data-state": item.state, "data-name": item.name },
    h(
      "div",
      { class: "step-head" },
      h("span", { class: "step-name" }, item.name),
      " ",
      badge(item.state),
      waits.length ? h("span", { class: "tag" }, waits.join(", ")) : null,
      item.started ? h("span", { class: "muted" }, ` reached ${time(item.started)}`) : null,
      note,
    ),
    layouts(item),
  );
}

function alarms(list) {
  if (!list.length) return null;
  return h(
    "div",
    { class: "rollback-alarms" },
    h("h3", {}, "Rollback alarms"),
    h(
      "ul",
      {},
      list.map((a) =>
        h(
          "li",
          { "data-alarm": a.name },
          h("span", { class: "alarm-name" }, a.name),
          " ",
          badge(a.state),
          a.changes.length
            ? h(
                "ul",
                { class: "changes" },
                a.changes.map((c) => h("li", {}, `${time(c.at)} ${c.summary}`)),
              )
            : null,
        ),
      ),
    ),
  );
}

export function timelineSection(doc) {
  const d = doc.deployment;
  if (!d) return section("Deployment", empty("No deployment seen since the server started."));
  const header = h(
    "div",
    { class: "deploy-head" },
    h("span", {}, `${d.policy} ${d.kind === "capacity" ? "change" : "update"}: ${d.oldConfig} → ${d.newConfig}`),
    " ",
    badge(d.outcome),
    h("span", { class: "muted" }, ` started ${dateTime(d.started)}`),
    d.finished ? h("span", { class: "muted" }, `, ended ${dateTime(d.finished)}`) : null,
  );
  const reason = d.reason ? h("p", { class: "failure", id: "deployment-reason" }, d.reason) : null;
  const forward = h("ol", { class: "timeline", id: "timeline" }, d.steps.map((item, i) => step(item, i, d.current, false)));
  const back = d.rollback.length
    ? h(
        "div",
        {},
        h("h3", {}, "Rollback"),
        h("ol", { class: "timeline", id: "rollback" }, d.rollback.map((item, i) => step(item, i, d.current, true))),
      )
    : null;
  const earlier = doc.earlierDeployments.length
    ? h(
        "details",
        {},
        h("summary", {}, `${doc.earlierDeployments.length} earlier deployment(s)`),
        h(
          "ul",
          {},
          doc.earlierDeployments.map((e) =>
            h("li", {}, `${dateTime(e.started)} ${e.kind} → ${e.newConfig || ""} `, badge(e.outcome), e.reason ? ` ${e.reason}` : ""),
          ),
        ),
      )
    : null;
  return h("section", { id: "deployment" }, h("h2", {}, "Deployment"), header, reason, alarms(d.alarms), forward, back, earlier);
}
