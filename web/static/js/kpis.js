// KPI cards: the overview of the range, each with its change against the previous period,
// compared like with like (see comparison() in dates.js) and saying so.
import { apiGet, apiGetFresh } from "./api.js";
import { comparison } from "./dates.js";
import { el, panelLoader } from "./dom.js";
import { formatChange, formatInteger, formatRupees, relativeChange } from "./format.js";

const KPIS = [
  ["credited", "Credited (tokens)", formatInteger],
  ["debited", "Debited (tokens)", formatInteger],
  ["net", "Net (tokens)", formatInteger],
  ["revenue_in_inr", "Revenue", formatRupees],
  ["active_users", "Active users", formatInteger],
];

const sameRange = (a, b) => a.from === b.from && a.to === b.to;

function compareText(compared) {
  if (!compared) return "No day of this range is over yet: changes show once one is.";
  const { current, previous, label, leavesOutToday } = compared;
  const today = leavesOutToday ? "; today is left out until it is over" : "";
  return `Changes: ${current.from} – ${current.to} ${label} (${previous.from} – ${previous.to})${today}.`;
}

function card([key, label, format], current, compared) {
  const children = [el("h3", { text: label }),
    el("p", { class: "kpi-value", dataset: { value: String(current[key]) }, text: format(current[key]) })];
  if (compared) {
    const change = relativeChange(compared.figures[key], compared.before[key]);
    const direction = change === null || change > 0 ? "up" : change < 0 ? "down" : "flat";
    children.push(el("p", {
      class: `kpi-change ${direction}`,
      dataset: { compared: String(compared.figures[key]), previous: String(compared.before[key]) },
      title: `${compared.current.from} – ${compared.current.to}: ${format(compared.figures[key])}; ` +
        `${compared.previous.from} – ${compared.previous.to}: ${format(compared.before[key])}`,
      text: `${formatChange(change)} ${compared.label}`,
    }));
  }
  return el("article", { class: "kpi", dataset: { kpi: key } }, children);
}

// `onFresh` hears the instant the range's figures were read (the API's X-Data-Fresh-As-Of).
export function kpisPanel({ onFresh }) {
  const panel = document.querySelector('[data-panel="kpis"]');
  const grid = panel.querySelector("#kpi-grid");
  const note = panel.querySelector("#kpis-compare");

  const load = panelLoader(panel, ({ current, compared, freshAsOf }) => {
    onFresh(freshAsOf);
    note.textContent = compareText(compared);
    grid.replaceChildren(...KPIS.map((kpi) => card(kpi, current, compared)));
    return null;
  });

  return (state, today) => load(async () => {
    const compared = comparison(state.range, today);
    const [{ body: current, freshAsOf }, figures, before] = await Promise.all([
      apiGetFresh("/tokens/overview", state.range),
      compared && !sameRange(compared.current, state.range) ? apiGet("/tokens/overview", compared.current) : null,
      compared ? apiGet("/tokens/overview", compared.previous) : null,
    ]);
    return { current, freshAsOf, compared: compared && { ...compared, figures: figures || current, before } };
  });
}
