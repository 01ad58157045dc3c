// Small line charts drawn as inline SVG: no chart library, nothing but the series given.

import { h, s } from "./dom.js";

const WIDTH = 360;
const HEIGHT = 120;
const LEFT = 44;
const RIGHT = 8;
const TOP = 8;
const BOTTOM = 18;

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

function label(value) {
  if (value >= 1000) return (value / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 }) + "k";
  return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

// Every period from start to end: counts where a period is missing are zero,
// other values are gaps.
function filled(points, start, end, period, zero) {
  const byTime = new Map(points.map(([t, v]) => [t, v]));
  const out = [];
  for (let t = start; t < end; t += period) {
    const v = byTime.has(t) ? byTime.get(t) : zero ? 0 : null;
    out.push([t, v]);
  }
  return out;
}

// lines: [{name, points: [[t, v]...]}]; options: {start, end, period, zero, unit, title}
export function lineChart(lines, options) {
  const { start, end, period, zero } = options;
  const data = lines.map((line) => filled(line.points, start, end, period, zero));
  let top = 0;
  for (const series of data) for (const [, v] of series) if (v !== null && v > top) top = v;
  top = niceMax(top);
  const x = (t) => LEFT + ((t - start) / Math.max(1, end - start)) * (WIDTH - LEFT - RIGHT);
  const y = (v) => TOP + (1 - v / top) * (HEIGHT - TOP - BOTTOM);
  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "aria-label": options.title,
  });
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    svg.appendChild(s("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value), class: "grid" }));
    svg.appendChild(s("text", { x: LEFT - 4, y: y(value) + 3, class: "axis", "text-anchor": "end" }, label(value)));
  }
  svg.appendChild(s("text", { x: LEFT, y: HEIGHT - 4, class: "axis" }, new Date(start * 1000).toLocaleTimeString()));
  svg.appendChild(
    s("text", { x: WIDTH - RIGHT, y: HEIGHT - 4, class: "axis", "text-anchor": "end" }, new Date(end * 1000).toLocaleTimeString()),
  );
  data.forEach((series, index) => {
    let path = "";
    let pen = false;
    for (const [t, v] of series) {
      if (v === null) {
        pen = false;
        continue;
      }
      const px = x(t + period / 2).toFixed(1);
      const py = y(v).toFixed(1);
      path += `${pen ? "L" : "M"}${px},${py}`;
      pen = true;
    }
    if (path) svg.appendChild(s("path", { d: path, class: `line series-${index % 6}` }));
    // A value with no neighbour draws no line: mark it with a dot.
    series.forEach(([t, v], i) => {
      const alone = v !== null && (series[i - 1]?.[1] ?? null) === null && (series[i + 1]?.[1] ?? null) === null;
      if (alone) svg.appendChild(s("circle", { cx: x(t + period / 2).toFixed(1), cy: y(v).toFixed(1), r: 2, class: `dot series-${index % 6}` }));
    });
  });
  const legend = h(
    "div",
    { class: "legend" },
    lines.map((line, index) => h("span", { class: `key series-${index % 6}` }, line.name)),
  );
  return h("figure", { class: "chart-box" }, h("figcaption", {}, options.title), svg, legend);
}

// A horizontal bar of parts [{value, kind}] out of total (traffic splits, capacity used).
export function bar(parts, total, title) {
  const width = 120;
  const svg = s("svg", { viewBox: `0 0 ${width} 10`, class: "bar", role: "img", "aria-label": title });
  svg.appendChild(s("rect", { x: 0, y: 0, width, height: 10, class: "bar-bg" }));
  let at = 0;
  for (const part of parts) {
    const w = total > 0 ? (Math.max(0, part.value) / total) * width : 0;
    if (w > 0) svg.appendChild(s("rect", { x: at, y: 0, width: w, height: 10, class: `bar-${part.kind}` }));
    at += w;
  }
  svg.appendChild(s("title", {}, title));
  return svg;
}
