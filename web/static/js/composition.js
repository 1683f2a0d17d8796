// Share of token volume by type: one stacked bar and its two percentages, also as a table.
import { apiGet } from "./api.js";
import { el, panelLoader, table } from "./dom.js";
import { formatPercent } from "./format.js";

const TYPES = [["regular", "Regular"], ["promo", "Promo"]];

export function compositionPanel() {
  const panel = document.querySelector('[data-panel="composition"]');
  const load = panelLoader(panel, (shares) => {
    const segments = TYPES.map(([key]) => {
      const segment = el("span", { class: `segment ${key}` });
      segment.style.width = `${shares[key]}%`;
      return segment;
    });
    panel.querySelector("#composition").replaceChildren(
      el("div", { class: "stacked", "aria-hidden": "true" }, segments),
      el("dl", { class: "stats two" }, TYPES.map(([key, label]) => el("div", { class: `stat ${key}` },
        el("dt", { text: label }),
        el("dd", { dataset: { key, value: String(shares[key]) }, text: formatPercent(shares[key]) })))));
    table(panel.querySelector("#composition-table"), [["Token type"], ["Share of volume (%)", "num"]],
      TYPES.map(([key, label]) => el("tr", { dataset: { key } }, el("th", { scope: "row", text: label }),
        el("td", { class: "num", dataset: { key, value: String(shares[key]) }, text: formatPercent(shares[key]) }))));
    return shares.regular || shares.promo ? null : "No token activity in this range.";
  });
  return (state) => load(() => apiGet("/tokens/composition", state.range));
}
