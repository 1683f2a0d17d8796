// Trend chart (Chart.js, vendored) with its numbers also as a table for keyboard and screen readers.
// Partial buckets (today, a period not over, a week or month clipped by the range) are drawn
// lighter, starred, and named in the table.
import { apiGet } from "./api.js";
import { bucketPartiality } from "./dates.js";
import { el, panelLoader, table } from "./dom.js";
import { drillButton } from "./drilldown.js";
import { formatInteger, formatRupees } from "./format.js";

const SERIES = [["credited", "Credited"], ["debited", "Debited"], ["net", "Net"]];
const X_TITLES = { daily: "Day", weekly: "Week (starting Monday)", monthly: "Month" };
const PARTIAL_ALPHA = "59";  // hex alpha of a partial bucket's bar: about 35 %

const cssColour = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function datasets(series, partial) {
  const colour = Object.fromEntries(SERIES.map(([key]) => [key, cssColour(`--${key}`)]));
  const bar = (key, label) => ({
    type: "bar", label, data: series.map((p) => p[key]),
    backgroundColor: series.map((_, i) => (partial[i].length ? colour[key] + PARTIAL_ALPHA : colour[key])),
    borderColor: colour[key], borderWidth: series.map((_, i) => (partial[i].length ? 1 : 0)),
  });
  return [
    bar("credited", "Credited"),
    bar("debited", "Debited"),
    { type: "line", label: "Net", data: series.map((p) => p.net), borderColor: colour.net, backgroundColor: colour.net,
      pointRadius: series.length > 60 ? 0 : 2, tension: 0, segment: { borderDash: (ctx) => (partial[ctx.p1DataIndex].length ? [4, 3] : undefined) } },
  ];
}

function chartOptions(granularity, partial, labels) {
  const ink = cssColour("--muted");
  const grid = cssColour("--line");
  const tokens = (value) => `${formatInteger(value)} tokens`;
  return {
    animation: false,
    maintainAspectRatio: false,
    color: ink,
    interaction: { mode: "index", intersect: false },
    // A click on a bucket opens its transactions (drilldown.js).
    onClick: (_, elements, chart) => elements.length && chart.canvas.dispatchEvent(new CustomEvent("drill", {
      bubbles: true, detail: { what: "bucket", value: labels[elements[0].index] } })),
    scales: {
      x: { title: { display: true, text: X_TITLES[granularity], color: ink }, grid: { color: grid },
        ticks: { color: ink, maxRotation: 0, autoSkipPadding: 12,
          callback: (_, index) => `${labels[index]}${partial[index].length ? " *" : ""}` } },
      y: { title: { display: true, text: "Tokens", color: ink }, grid: { color: grid },
        ticks: { color: ink, callback: (value) => formatInteger(value) } },
    },
    plugins: {
      legend: { position: "bottom", labels: { color: ink } },
      tooltip: { callbacks: {
        title: ([item]) => `${labels[item.dataIndex]}${partial[item.dataIndex].length ? ` (partial: ${partial[item.dataIndex].join("; ")})` : ""}`,
        label: (item) => `${item.dataset.label}: ${tokens(item.parsed.y)}`,
      } },
    },
  };
}

function row(point, reasons) {
  const period = el("th", { scope: "row" }, drillButton("bucket", point.date, point.date, `Transactions of ${point.date}`));
  if (reasons.length) period.append(" ", el("span", { class: "badge partial", title: reasons.join("; "), text: "partial" }));
  return el("tr", { dataset: { date: point.date, partial: reasons.join("; ") } }, period,
    ["credited", "debited", "net", "active_users"].map((key) =>
      el("td", { class: "num", dataset: { key, value: String(point[key]) }, text: formatInteger(point[key]) })),
    el("td", { class: "num", dataset: { key: "revenue_in_inr", value: String(point.revenue_in_inr) },
      text: formatRupees(point.revenue_in_inr) }));
}

export function trendPanel() {
  const panel = document.querySelector('[data-panel="trend"]');
  const canvas = panel.querySelector("#trend-chart");
  const note = panel.querySelector("#trend-partial");
  let chart = null;

  const draw = (series, partial, granularity) => {
    const labels = series.map((point) => point.date);
    const data = { labels, datasets: datasets(series, partial) };
    chart?.destroy();
    chart = new window.Chart(canvas, { data, options: chartOptions(granularity, partial, labels) });
  };

  const load = panelLoader(panel, ({ series, granularity, range, today }) => {
    const partial = series.map((point) => bucketPartiality(point.date, granularity, range, today));
    table(panel.querySelector("#trend-table"),
      [["Period"], ["Credited (tokens)", "num"], ["Debited (tokens)", "num"], ["Net (tokens)", "num"],
        ["Active users", "num"], ["Revenue (₹)", "num"]],
      series.map((point, i) => row(point, partial[i])));
    const starred = series.map((point, i) => (partial[i].length ? `${point.date} ${partial[i].join("; ")}` : null)).filter(Boolean);
    note.hidden = !starred.length;
    note.textContent = starred.length ? `* Partial (lighter bars, dashed line): ${starred.join(". ")}.` : "";
    draw(series, partial, granularity);
    const active = series.some((point) => point.credited || point.debited);
    return active ? null : "No token activity in this range.";
  });

  return (state, today) => load(async () => {
    const { series } = await apiGet("/tokens/trend", { granularity: state.granularity, ...state.range });
    return { series, granularity: state.granularity, range: state.range, today };
  });
}
