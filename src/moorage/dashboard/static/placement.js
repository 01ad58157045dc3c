// Inference components and the placement map: instances × vCPUs / accelerators / memory.

import { bar } from "./charts.js";
import { badge, empty, h, number, section } from "./dom.js";

// The same component keeps its colour on every instance.
function colour(name, names) {
  return `comp-${names.indexOf(name) % 8}`;
}

function devices(accelerators, copies, names) {
  if (!accelerators.total) return h("span", { class: "muted" }, "no accelerators");
  const owner = new Map();
  for (const copy of copies) for (const index of copy.accelerator_indices) owner.set(index, copy.component);
  const cells = [];
  for (let i = 0; i < accelerators.total; i++) {
    const who = owner.get(i);
    cells.push(
      h(
        "span",
        { class: `device ${who ? colour(who, names) : "free"}`, title: who ? `${i}: ${who}` : `${i}: free`, "data-device": i },
        String(i),
      ),
    );
  }
  return h("span", { class: "devices" }, `${accelerators.name || accelerators.kind} `, cells);
}

function usage(label, used, total, unit) {
  return h(
    "div",
    { class: "usage" },
    h("span", { class: "usage-label" }, label),
    bar([{ value: used, kind: "used" }], total, `${number(used)} of ${number(total)} ${unit} used`),
    h("span", { class: "muted" }, ` ${number(used)}/${number(total)} ${unit}`),
  );
}

function instance(slot, names) {
  return h(
    "div",
    { class: "instance", "data-instance": slot.instance_id },
    h("div", { class: "instance-head" }, h("strong", {}, slot.instance_id), " ", h("span", { class: "muted" }, slot.instance_type)),
    usage("vCPU", slot.vcpus.used, slot.vcpus.total, "vCPU"),
    usage("Memory", slot.memory_mb.used, slot.memory_mb.total, "MB"),
    h("div", { class: "usage" }, h("span", { class: "usage-label" }, "Accel."), devices(slot.accelerators, slot.copies, names)),
    h(
      "ul",
      { class: "copies" },
      slot.copies.map((c) =>
        h(
          "li",
          { class: `copy ${colour(c.component, names)}`, "data-component": c.component },
          h("span", { class: "copy-name" }, c.component),
          h(
            "span",
            { class: "muted" },
            ` ${number(c.vcpus)} vCPU, ${c.min_memory_mb} MB` +
              (c.accelerator_indices.length ? `, accelerators ${c.accelerator_indices.join(", ")}` : ""),
          ),
        ),
      ),
    ),
  );
}

export function componentsSection(doc) {
  const components = doc.components;
  const placement = doc.placement;
  if (!components.length && !placement) return null;
  const names = components.map((c) => c.name);
  const table = components.length
    ? h(
        "table",
        { class: "list", id: "components" },
        h("thead", {}, h("tr", {}, ["Component", "Variant", "Status", "Copies (current/desired)", "Failure"].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          components.map((c) =>
            h(
              "tr",
              { "data-component": c.name },
              h("td", {}, h("span", { class: `swatch ${colour(c.name, names)}` }), c.name, c.base ? h("span", { class: "muted" }, ` (adapter of ${c.base})`) : null),
              h("td", {}, c.variant),
              h("td", {}, badge(c.status)),
              h("td", { class: "num" }, c.desiredCopies === null ? "—" : `${c.currentCopies}/${c.desiredCopies}`),
              h("td", { class: "failure" }, c.failureReason || ""),
            ),
          ),
        ),
      )
    : empty("No inference components.");
  const map = placement
    ? h(
        "div",
        { id: "placement" },
        placement.variants.map((v) =>
          h(
            "div",
            { class: "placement-variant", "data-variant": v.variant },
            h(
              "h3",
              {},
              `Placement: ${v.variant} (${v.instance_type}), ${v.totals.instances} instance(s), ${v.totals.copies} copies`,
            ),
            h("div", { class: "instances" }, v.instances.map((slot) => instance(slot, names))),
          ),
        ),
      )
    : null;
  return section("Inference components", table, map);
}
