// The admin dashboard: sign-in, the shareable view state (range and switches in the query
// string), and the panels that follow it.
import { apiGet, whenUnauthorized } from "./api.js";
import { apiSchema } from "./schema.js";
import { compositionPanel } from "./composition.js";
import { presetRange, rangeProblem } from "./dates.js";
import { drilldownPanel } from "./drilldown.js";
import { exportsPanel } from "./exports.js";
import { featuresPanel } from "./features.js";
import { kpisPanel } from "./kpis.js";
import { loadCampaigns, promotionsPanel, purchasesPanel } from "./stats.js";
import { forgetToken, storedToken, storeToken, takeTokenFromFragment } from "./session.js";
import { topUsersPanel } from "./top_users.js";
import { trendPanel } from "./trend.js";

const DEFAULT_PRESET = "30d";
const DEFAULT_LIMIT = 20;

const $ = (selector) => document.querySelector(selector);
const signInView = $("#sign-in-view");
const dashboardView = $("#dashboard-view");

let meta = null;
let state = null;
let panels = null;
let exportsView = null;
let drilldown = null;
let campaigns = [];
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
  };
}

function writeUrl() {
  const query = new URLSearchParams({ ...state.range, granularity: state.granularity, metric: state.metric, limit: state.limit });
  if (state.campaign) query.set("campaign", state.campaign);
  history.replaceState(null, "", `${location.pathname}?${query}`);
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
}

function showRangeProblem(problem) {
  $("#range-message").hidden = !problem;
  $("#range-message").textContent = problem || "";
}

function loadEverything() {
  writeUrl();
  showControls();
  exportsView.setContext({ range: state.range, campaigns, datasets: schema.datasets, exportTypes: schema.exportTypes });
  drilldown.close();
  for (const load of Object.values(panels)) load(state);
}

function setRange(range) {
  const problem = rangeProblem(range.from, range.to);
  showRangeProblem(problem);
  if (problem) return;
  state.range = range;
  loadEverything();
}

function change(key, value, panel) {
  state[key] = value;
  if (key !== "campaign") drilldown.close();
  writeUrl();
  showControls();
  panels[panel](state);
}

function showSignIn(message) {
  exportsView?.stopPolling();
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
  state = stateFromUrl(meta.today);
  campaigns = await loadCampaigns($("#campaign")).catch(() => []);
  loadEverything();
  exportsView.refresh();
}

function wireControls() {
  panels = {
    kpis: kpisPanel(),
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
  $("#granularity").addEventListener("change", (event) => change("granularity", event.target.value, "trend"));
  $("#top-metric").addEventListener("change", (event) => change("metric", event.target.value, "topUsers"));
  $("#top-users-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const limit = validLimit($("#top-limit").value);
    if (limit === null) {
      $('[data-panel="top-users"] .panel-status').textContent = "Show between 1 and 100 users.";
      return;
    }
    change("limit", limit, "topUsers");
  });
  $("#campaign").addEventListener("change", (event) => change("campaign", event.target.value, "promotions"));
}

wireControls();
takeTokenFromFragment();
if (storedToken()) start();
else showSignIn();
