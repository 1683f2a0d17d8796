// Feature breakdown as bars drawn with plain elements: the numbers stay text, readable and
// testable; the plain table beside it adds each feature's net.
import { apiGet } from "./api.js";
import { breakable, el, panelLoader, table } from "./dom.js";
import { drillButton } from "./drilldown.js";
import { formatInteger } from "./format.js";

function barCell(key, value, max) {
  const bar = el("span", { class: `bar ${key}`, "aria-hidden": "true" });
  bar.style.width = `${max ? (value / max) * 100 : 0}%`;
  return el("td", { class: "num", dataset: { key, value: String(value) } },
    el("span", { class: "bar-track" }, bar), el("span", { class: "bar-label", text: formatInteger(value) }));
}

const numberCell = (key, value) => el("td", { class: "num", dataset: { key, value: String(value) }, text: formatInteger(value) });

export function featuresPanel() {
  const panel = document.querySelector('[data-panel="features"]');
  const load = panelLoader(panel, ({ items }) => {
    const max = Math.max(0, ...items.flatMap((item) => [item.credited, item.debited]));
    table(panel.querySelector("#features-table"), [["Feature"], ["Credited (tokens)", "num"], ["Debited (tokens)", "num"]],
      items.map((item) => el("tr", { dataset: { feature: item.feature } },
        el("th", { scope: "row" }, drillButton("feature", item.feature, breakable(item.feature), `Transactions of ${item.feature}`)),
        barCell("credited", item.credited, max),
        barCell("debited", item.debited, max))));
    table(panel.querySelector("#features-plain-table"),
      [["Feature"], ["Credited (tokens)", "num"], ["Debited (tokens)", "num"], ["Net (tokens)", "num"]],
      items.map((item) => el("tr", { dataset: { feature: item.feature } },
        el("th", { scope: "row" }, breakable(item.feature)),
        numberCell("credited", item.credited), numberCell("debited", item.debited),
        numberCell("net", item.credited - item.debited))));
    return items.length ? null : "No feature had token activity in this range.";
  });
  return (state) => load(() => apiGet("/tokens/by-feature", state.range));
}
