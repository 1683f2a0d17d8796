// Trend chart (Chart.js, vendored) with its numbers also as a table for keyboard and screen readers.
import { apiGet } from "./api.js";
import { el, panelLoader, table } from "./dom.js";
import { drillButton } from "./drilldown.js";
import { formatInteger, formatRupees } from "./format.js";

const COLOURS = { credited: "#2f7d5b", debited: "#c4553a", net: "#2d4e8a" };

export function trendPanel() {
  const panel = document.querySelector('[data-panel="trend"]');
  const canvas = panel.querySelector("#trend-chart");
  let chart = null;

  const draw = (series) => {
    const data = {
      labels: series.map((point) => point.date),
      datasets: [
        { type: "bar", label: "Credited", data: series.map((p) => p.credited), backgroundColor: COLOURS.credited },
        { type: "bar", label: "Debited", data: series.map((p) => p.debited), backgroundColor: COLOURS.debited },
        { type: "line", label: "Net", data: series.map((p) => p.net), borderColor: COLOURS.net,
          backgroundColor: COLOURS.net, pointRadius: series.length > 60 ? 0 : 2, tension: 0 },
      ],
    };
    if (chart) {
      chart.data = data;
      chart.update();
      return;
    }
    chart = new window.Chart(canvas, {
      data,
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } } },
        plugins: { legend: { position: "bottom" } },
        // A click on a bucket opens its transactions (drilldown.js).
        onClick: (_, elements) => elements.length && canvas.dispatchEvent(new CustomEvent("drill", {
          bubbles: true, detail: { what: "bucket", value: chart.data.labels[elements[0].index] } })),
      },
    });
  };

  const load = panelLoader(panel, ({ series }) => {
    table(panel.querySelector("#trend-table"),
      [["Period"], ["Credited", "num"], ["Debited", "num"], ["Net", "num"], ["Active users", "num"], ["Revenue", "num"]],
      series.map((point) => el("tr", { dataset: { date: point.date } },
        el("th", { scope: "row" }, drillButton("bucket", point.date, point.date, `Transactions of ${point.date}`)),
        ["credited", "debited", "net", "active_users"].map((key) =>
          el("td", { class: "num", dataset: { key, value: String(point[key]) }, text: formatInteger(point[key]) })),
        el("td", { class: "num", dataset: { key: "revenue_in_inr", value: String(point.revenue_in_inr) },
          text: formatRupees(point.revenue_in_inr) }))));
    draw(series);
    const active = series.some((point) => point.credited || point.debited);
    return active ? null : "No token activity in this range.";
  });

  return (state) => load(() => apiGet("/tokens/trend", { granularity: state.granularity, ...state.range }));
}
