// KPI cards: the overview of the range, each with its change against the previous period.
import { apiGet } from "./api.js";
import { previousRange } from "./dates.js";
import { el, panelLoader } from "./dom.js";
import { formatChange, formatInteger, formatRupees, relativeChange } from "./format.js";

const KPIS = [
  ["credited", "Credited", formatInteger],
  ["debited", "Debited", formatInteger],
  ["net", "Net", formatInteger],
  ["revenue_in_inr", "Revenue", formatRupees],
  ["active_users", "Active users", formatInteger],
];

export function kpisPanel() {
  const panel = document.querySelector('[data-panel="kpis"]');
  const grid = panel.querySelector("#kpi-grid");
  const compare = panel.querySelector("#kpis-compare");

  const load = panelLoader(panel, ({ current, previous, before }) => {
    compare.textContent = `vs ${before.from} – ${before.to}`;
    grid.replaceChildren(...KPIS.map(([key, label, format]) => {
      const change = relativeChange(current[key], previous[key]);
      const direction = change === null || change > 0 ? "up" : change < 0 ? "down" : "flat";
      return el("article", { class: "kpi", dataset: { kpi: key } },
        el("h3", { text: label }),
        el("p", { class: "kpi-value", dataset: { value: String(current[key]) }, text: format(current[key]) }),
        el("p", {
          class: `kpi-change ${direction}`,
          dataset: { previous: String(previous[key]) },
          title: `previous period: ${format(previous[key])}`,
          text: `${formatChange(change)} vs previous`,
        }));
    }));
    return null;
  });

  return (state) => load(async () => {
    const before = previousRange(state.range);
    const [current, previous] = await Promise.all([
      apiGet("/tokens/overview", state.range),
      apiGet("/tokens/overview", before),
    ]);
    return { current, previous, before };
  });
}
