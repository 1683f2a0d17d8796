// The admin dashboard: sign-in, the shareable view state (range, switches and open tables in the
// query string; each choice a history entry that back/forward restore), and the panels that
// follow it.
import { apiGet, whenUnauthorized } from "./api.js";
import { apiSchema } from "./schema.js";
import { compositionPanel } from "./composition.js";
import { presetRange, rangeProblem } from "./dates.js";
import { el } from "./dom.js";
import { drilldownPanel } from "./drilldown.js";
import { exportsPanel } from "./exports.js";
import { featuresPanel } from "./features.js";
import { useLocale } from "./format.js";
import { freshnessLine } from "./freshness.js";
import { kpisPanel } from "./kpis.js";
import { loadCampaigns, promotionsPanel, purchasesPanel } from "./stats.js";
import { forgetToken, storedToken, storeToken, takeTokenFromFragment } from "./session.js";
import { topUsersPanel } from "./top_users.js";
import { trendPanel } from "./trend.js";

const DEFAULT_PRESET = "30d";
const DEFAULT_LIMIT = 20;
const TABLE_VIEWS = ["trend", "features", "composition"];
// What each panel's figures depend on besides the range.
const PANEL_INPUTS = {
  kpis: [], trend: ["granularity"], features: [], composition: [], topUsers: ["metric", "limit"],
  purchases: [], promotions: ["campaign"],
};
const DRILLDOWN_INPUTS = ["granularity", "metric"];

const $ = (selector) => document.querySelector(selector);
const signInView = $("#sign-in-view");
const dashboardView = $("#dashboard-view");

let meta = null;
let state = null;
let panels = null;
let exportsView = null;
let drilldown = null;
let freshness = null;
let campaigns = null;
let schema = null;

function validLimit(raw) {
  return /^\d+$/.test(raw || "") && Number(raw) >= 1 && Number(raw) <= 100 ? Number(raw) : null;
}

function stateFromUrl(today) {
  const query = new URLSearchParams(location.search);
  const from = query.get("from");
  const to = query.get("to");
  const choose = (value, allowed) => (allowed.includes(value) ? value : allowed[0]);
  return {
    range: rangeProblem(from, to) ? presetRange(DEFAULT_PRESET, today) : { from, to },
    granularity: choose(query.get("granularity"), schema.granularities),
    metric: choose(query.get("metric"), schema.metrics),
    limit: validLimit(query.get("limit")) || DEFAULT_LIMIT,
    campaign: query.get("campaign") || "",
    tables: (query.get("tables") || "").split(",").filter((view) => TABLE_VIEWS.includes(view)),
  };
}

function urlOf(view) {
  const query = new URLSearchParams({ ...view.range, granularity: view.granularity, metric: view.metric, limit: view.limit });
  if (view.campaign) query.set("campaign", view.campaign);
  if (view.tables.length) query.set("tables", view.tables.join(","));
  return `${location.pathname}?${query}`;
}

// A choice the admin makes is a new history entry (back undoes it); a correction is not.
function writeUrl(mode) {
  const url = urlOf(state);
  if (mode === "push" && url !== location.pathname + location.search) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function showControls() {
  $("#range-from").value = state.range.from;
  $("#range-to").value = state.range.to;
  for (const button of document.querySelectorAll("[data-preset]")) {
    const preset = presetRange(button.dataset.preset, meta.today);
    button.setAttribute("aria-pressed", String(preset.from === state.range.from && preset.to === state.range.to));
  }
  for (const radio of document.querySelectorAll('input[name="granularity"]')) radio.checked = radio.value === state.granularity;
  $("#top-metric").value = state.metric;
  $("#top-limit").value = state.limit;
  $("#campaign").value = state.campaign;
  for (const details of document.querySelectorAll("details[data-view]")) details.open = state.tables.includes(details.dataset.view);
}

function showRangeProblem(problem) {
  $("#range-message").hidden = !problem;
  $("#range-message").textContent = problem || "";
}

// A campaign the server does not know (a stale or mistyped link) is said so, and the panel
// shows all campaigns; when the campaigns could not be read, the link's campaign is kept.
function checkCampaign(view) {
  const unknown = campaigns && view.campaign && !campaigns.some((campaign) => campaign.id === view.campaign);
  $("#campaign-message").hidden = !unknown;
  $("#campaign-message").textContent = unknown ? `Unknown campaign "${view.campaign}": showing all campaigns.` : "";
  if (unknown) return { ...view, campaign: "" };
  if (view.campaign && !campaigns && ![...$("#campaign").options].some((option) => option.value === view.campaign)) {
    $("#campaign").append(el("option", { value: view.campaign, text: view.campaign }));
  }
  return view;
}

const sameRange = (a, b) => a.from === b.from && a.to === b.to;

// Shows `next` and loads the panels whose inputs changed (all of them with `reload`).
function apply(next, { history: mode = null, reload = false } = {}) {
  const before = state;
  state = next;
  if (mode) writeUrl(mode);
  showControls();
  const rangeChanged = reload || !before || !sameRange(before.range, next.range);
  if (rangeChanged) {
    freshness.load(state, meta.today);
    exportsView.setContext({ range: state.range, campaigns: campaigns || [], datasets: schema.datasets,
      exportTypes: schema.exportTypes });
  }
  // The drill-down's rows answer the range, granularity and metric they were opened with.
  if (rangeChanged || DRILLDOWN_INPUTS.some((key) => before[key] !== next[key])) drilldown.close();
  for (const [name, inputs] of Object.entries(PANEL_INPUTS)) {
    if (rangeChanged || inputs.some((key) => before[key] !== next[key])) panels[name](state, meta.today);
  }
}

function setRange(range) {
  const problem = rangeProblem(range.from, range.to);
  showRangeProblem(problem);
  if (problem) return;
  apply({ ...state, range }, { history: "push", reload: true });
}

function change(key, value) {
  if (key === "campaign") $("#campaign-message").hidden = true;
  apply({ ...state, [key]: value }, { history: "push" });
}

function showSignIn(message) {
  exportsView?.stopPolling();
  state = null;
  dashboardView.hidden = true;
  signInView.hidden = false;
  $("#sign-out").hidden = true;
  $("#sign-in-message").hidden = !message;
  $("#sign-in-message").textContent = message || "";
  $("#token-input").value = "";
  $("#token-input").focus();
}

async function start() {
  try {
    [meta, schema] = await Promise.all([apiGet("/meta"), apiSchema()]);
  } catch (error) {
    if (error.status !== 401) showSignIn(`Cannot open the dashboard: ${error.message}`);
    return;
  }
  signInView.hidden = true;
  dashboardView.hidden = false;
  $("#sign-out").hidden = false;
  $("#report-timezone").textContent = meta.report_timezone;
  $("#report-today").textContent = meta.today;
  useLocale(meta.locale);
  campaigns = await loadCampaigns($("#campaign")).catch(() => null);
  apply(checkCampaign(stateFromUrl(meta.today)), { history: "replace" });
  exportsView.refresh();
}

function wireControls() {
  freshness = freshnessLine();
  panels = {
    kpis: kpisPanel({ onFresh: (instant) => freshness.figuresRead(instant) }),
    trend: trendPanel(),
    features: featuresPanel(),
    composition: compositionPanel(),
    topUsers: topUsersPanel(),
    purchases: purchasesPanel(),
    promotions: promotionsPanel(),
  };
  exportsView = exportsPanel();
  drilldown = drilldownPanel(() => state, (dataset, filters) => exportsView.prefill(dataset, filters));

  whenUnauthorized((error) => showSignIn(`Signed out: ${error.message}. Paste a valid admin token.`));
  $("#sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#token-input").value.trim();
    if (!token) return showSignIn("Paste a token first.");
    storeToken(token);
    start();
  });
  $("#sign-out").addEventListener("click", () => {
    forgetToken();
    showSignIn("Signed out.");
  });
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => setRange(presetRange(button.dataset.preset, meta.today)));
  }
  $("#range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setRange({ from: $("#range-from").value, to: $("#range-to").value });
  });
  $("#granularity").addEventListener("change", (event) => change("granularity", event.target.value));
  $("#top-metric").addEventListener("change", (event) => change("metric", event.target.value));
  $("#top-users-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const limit = validLimit($("#top-limit").value);
    if (limit === null) {
      $('[data-panel="top-users"] .panel-status').textContent = "Show between 1 and 100 users.";
      return;
    }
    change("limit", limit);
  });
  $("#campaign").addEventListener("change", (event) => change("campaign", event.target.value));
  for (const details of document.querySelectorAll("details[data-view]")) {
    details.addEventListener("toggle", () => {
      if (!state || details.open === state.tables.includes(details.dataset.view)) return;
      const tables = TABLE_VIEWS.filter((view) => (view === details.dataset.view ? details.open : state.tables.includes(view)));
      change("tables", tables);
    });
  }
  // Back and forward restore the view the entry was made for.
  window.addEventListener("popstate", () => {
    if (!state) return;
    showRangeProblem(null);
    apply(checkCampaign(stateFromUrl(meta.today)), { history: "replace" });
  });
}

wireControls();
takeTokenFromFragment();
if (storedToken()) start();
else showSignIn();
