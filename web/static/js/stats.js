// Purchase and promotion panels: a few named figures each.
import { apiGet } from "./api.js";
import { el, panelLoader } from "./dom.js";
import { formatDecimal, formatInteger, formatPercent, formatRupees } from "./format.js";

const PURCHASE_STATS = [
  ["total_purchases", "Paid purchases", formatInteger],
  ["total_revenue", "Revenue", formatRupees],
  ["total_tokens", "Tokens sold", formatInteger],
  ["unique_buyers", "Buyers", formatInteger],
  ["avg_tokens_per_purchase", "Tokens per purchase", formatDecimal],
  ["avg_revenue_per_purchase", "Revenue per purchase", formatRupees],
];

const PROMOTION_STATS = [
  ["total_referrals", "Referrals", formatInteger],
  ["successful_referrals", "Credited", formatInteger],
  ["conversion_rate", "Conversion", formatPercent],
  ["total_referrers", "Referrers", formatInteger],
  ["total_bonus_awarded", "Bonus awarded", formatInteger],
];

function renderStats(list, definitions, body) {
  list.replaceChildren(...definitions.map(([key, label, format]) => el("div", { class: "stat" },
    el("dt", { text: label }),
    el("dd", { dataset: { key, value: String(body[key]) }, text: format(body[key]) }))));
}

export function purchasesPanel() {
  const panel = document.querySelector('[data-panel="purchases"]');
  const load = panelLoader(panel, (body) => {
    renderStats(panel.querySelector("#purchases-stats"), PURCHASE_STATS, body);
    return body.total_purchases ? null : "No paid purchases in this range.";
  });
  return (state) => load(() => apiGet("/purchases", state.range));
}

export function promotionsPanel() {
  const panel = document.querySelector('[data-panel="promotions"]');
  const load = panelLoader(panel, (body) => {
    renderStats(panel.querySelector("#promotions-stats"), PROMOTION_STATS, body);
    return body.total_referrals ? null : "No referrals in this range.";
  });
  return (state) => load(() => apiGet("/promotions", { campaign_id: state.campaign, ...state.range }));
}

// The campaign picker; without the campaigns route the panel still works for all campaigns.
export async function loadCampaigns(select) {
  const { items } = await apiGet("/campaigns");
  select.replaceChildren(el("option", { value: "", text: "All campaigns" }),
    ...items.map((campaign) => el("option", { value: campaign.id, text: campaign.name })));
  return items;
}
