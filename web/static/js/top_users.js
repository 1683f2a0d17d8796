// Leaderboard by spend, earn or net; the metric and limit are part of the shareable view.
import { apiGet } from "./api.js";
import { el, panelLoader, table } from "./dom.js";
import { drillButton } from "./drilldown.js";
import { formatInteger } from "./format.js";

export function topUsersPanel() {
  const panel = document.querySelector('[data-panel="top-users"]');
  const load = panelLoader(panel, ({ items, metric }) => {
    table(panel.querySelector("#top-users-table"), [["#", "num"], ["User"], ["Email", "email"], [`${metric[0].toUpperCase()}${metric.slice(1)} (tokens)`, "num"]],
      items.map((item, index) => el("tr", { dataset: { userId: String(item.user_id) } },
        el("td", { class: "num", text: String(index + 1) }),
        el("th", { scope: "row" }, drillButton("user", item.user_id, item.username, `Transactions of ${item.username}`),
          el("span", { class: "muted", text: ` #${item.user_id}` })),
        el("td", { class: "email", text: item.email }),
        el("td", { class: "num", dataset: { key: metric, value: String(item[metric]) }, text: formatInteger(item[metric]) }))));
    return items.length ? null : "No user had token activity in this range.";
  });
  return (state) => load(async () => {
    const body = await apiGet("/users/top", { metric: state.metric, limit: state.limit, ...state.range });
    return { items: body.items, metric: state.metric };
  });
}
