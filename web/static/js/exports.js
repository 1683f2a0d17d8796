// Exports: a form per dataset with its filters (the spec's "Dataset Filters"), and the admin's
// exports, a page at a time, with live status while any is preparing, cancel, retry and the state
// of their webhook notifications.
import { apiDelete, apiGet, apiPost } from "./api.js";
import { rangeProblem } from "./dates.js";
import { el, errorText, panelLoader, table } from "./dom.js";
import { filtersText } from "./drilldown.js";
import { formatBytes, formatInteger, formatTimestamp } from "./format.js";

const POLL_MS = 2000;
const DATE_RANGE = [["from", "date"], ["to", "date"]];
// What a retry sends again: the fields of the export's request, as its status body gives them back.
const REQUEST_FIELDS = ["type", "dataset", "filters", "columns", "compression"];
const CANCELABLE = ["preparing", "ready"];

function field([name, kind, label], { range, campaigns }) {
  const text = label || name.replace("_", " ");
  let input;
  if (Array.isArray(kind) || kind === "campaign") {
    const options = kind === "campaign" ? campaigns.map((c) => [c.id, c.name]) : kind.map((value) => [value, value]);
    input = el("select", { name }, el("option", { value: "", text: "any" }),
      options.map(([value, shown]) => el("option", { value, text: shown })));
  } else if (kind === "date") {
    // ISO text, as the range fields: a native date input shows the browser's locale (11/02/2026).
    input = el("input", { type: "text", name, value: range[name], pattern: "\\d{4}-\\d{2}-\\d{2}",
      placeholder: "YYYY-MM-DD", inputmode: "numeric", autocomplete: "off", size: "10" });
  } else if (kind === "id") {
    input = el("input", { type: "text", name, inputmode: "numeric", autocomplete: "off" });
  } else {
    input = el("input", { type: "text", name, autocomplete: "off" });
  }
  return el("label", {}, el("span", { text: text[0].toUpperCase() + text.slice(1) }), input);
}

// Only filled-in filters are sent; ids must be whole numbers, dates a valid range.
function readFilters(form, { dated, fields }) {
  const filters = {};
  for (const input of form.querySelectorAll("#export-filters [name]")) {
    if (input.value.trim()) filters[input.name] = input.value.trim();
  }
  for (const [name] of fields.filter(([, kind]) => kind === "id")) {
    if (name in filters) {
      if (!/^[1-9]\d*$/.test(filters[name])) return { problem: `${name} must be a whole number above 0.` };
      filters[name] = Number(filters[name]);
    }
  }
  const problem = rangeProblem(filters.from, filters.to, { required: dated });
  return problem ? { problem } : { filters };
}

// Two exports of one dataset differ by their filters and columns: a short line says which.
function requestSummary(item) {
  const parts = [filtersText(item.filters || {}) || "all rows"];
  if (item.columns) parts.push(`columns ${item.columns.join(", ")}`);
  if (item.compression && item.compression !== "none") parts.push(item.compression);
  return parts.join(" · ");
}

// The webhook attempts of the export's latest event; no `notifications` field means no webhooks.
export function notificationState(notifications) {
  if (!notifications?.length) return "";
  const ordered = [...notifications].sort((a, b) => (a.attempted_at < b.attempted_at ? -1 : 1));
  const latest = ordered[ordered.length - 1];
  if (latest.delivered) return `webhook delivered (${latest.event})`;
  const attempts = ordered.filter((attempt) => attempt.event === latest.event).length;
  return `webhook retrying (${attempts})`;
}

function statusCell(item) {
  const badge = el("span", { class: `badge ${item.status}`, text: item.status });
  if (item.status === "preparing" && item.rows_written !== undefined) {
    const of = item.estimated_rows ? ` of ~${formatInteger(item.estimated_rows)}` : "";
    return el("td", {}, badge, el("span", { class: "muted", text: ` ${formatInteger(item.rows_written)}${of} rows` }));
  }
  if (item.status === "failed") return el("td", {}, badge, el("span", { class: "error-text", text: ` ${item.error_message || ""}` }));
  return el("td", {}, badge);
}

function rowsCell(item) {
  const rows = item.actual_rows ?? item.estimated_rows;
  const text = rows === undefined || rows === null ? "" : `${item.actual_rows === undefined || item.actual_rows === null ? "~" : ""}${formatInteger(rows)}`;
  return el("td", { class: "num", dataset: { key: "rows", value: String(rows ?? "") }, text });
}

function actionsCell(item) {
  const actions = [];
  if (item.status === "ready" && item.download_url) {
    actions.push(el("a", { class: "button", href: item.download_url, download: "", text: "Download" }),
      el("span", { class: "muted", text: item.file_size ? ` ${formatBytes(item.file_size)} ` : " " }));
  }
  if (CANCELABLE.includes(item.status)) actions.push(el("button", { type: "button", dataset: { action: "cancel" }, text: "Cancel" }));
  if (item.status === "failed") actions.push(el("button", { type: "button", dataset: { action: "retry" }, text: "Retry" }));
  return el("td", { class: "actions" }, actions);
}

function exportRow(item) {
  return el("tr", { dataset: { exportId: item.export_id, status: item.status } },
    el("td", { class: "nowrap", text: formatTimestamp(item.created_at) }),
    el("td", { text: `${item.dataset} · ${item.type}` }),
    el("td", { class: "filters-cell", title: JSON.stringify({ filters: item.filters, columns: item.columns }),
      text: requestSummary(item) }),
    statusCell(item),
    rowsCell(item),
    el("td", { class: "nowrap", text: formatTimestamp(item.expires_at) }),
    el("td", { class: "notifications", text: notificationState(item.notifications) }),
    actionsCell(item));
}

// The line under the form about the export it made: it follows that export's status.
function announcement(item) {
  const done = { ready: `ready, ${formatInteger(item.actual_rows ?? 0)} rows`, failed: `failed: ${item.error_message || ""}` };
  return `Export ${item.export_id} created: ${done[item.status] || item.status}.`;
}

export function exportsPanel() {
  const panel = document.querySelector('[data-panel="exports"]');
  const form = panel.querySelector("#export-form");
  const datasetSelect = form.querySelector("#export-dataset");
  const message = form.querySelector("#export-message");
  const more = panel.querySelector("#exports-more");
  const tableNode = panel.querySelector("#exports-table");
  let context = { range: {}, campaigns: [], datasets: {}, exportTypes: [] };
  let items = [];
  let nextCursor = null;
  let announced = null; // the id of the export the message is about
  let pollTimer = null;

  const say = (text, kind) => {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = `message ${kind || ""}`;
  };

  const announce = (item) => {
    announced = item.export_id;
    say(announcement(item), item.status === "failed" ? "error" : "ok");
  };

  const showFields = () => {
    // Dated datasets start from the dashboard's range; users' registration dates start empty.
    const { dated, fields } = context.datasets[datasetSelect.value];
    const fieldContext = { ...context, range: dated ? context.range : {} };
    panel.querySelector("#export-filters").replaceChildren(el("legend", { text: "Filters" }),
      ...[...DATE_RANGE, ...fields].map((spec) => field(spec, fieldContext)));
  };

  const stopPolling = () => {
    clearTimeout(pollTimer);
    pollTimer = null;
  };

  const render = () => {
    table(tableNode, [["Created"], ["Dataset"], ["Filters"], ["Status"], ["Rows", "num"], ["Expires"], ["Notifications"], ["File"]],
      items.map(exportRow));
    more.hidden = !nextCursor;
  };

  // One export's new status, in its row and (if it is the one just created) in the message.
  const update = (item) => {
    const index = items.findIndex((known) => known.export_id === item.export_id);
    if (index >= 0) {
      items[index] = item;
      tableNode.querySelector(`tr[data-export-id="${item.export_id}"]`)?.replaceWith(exportRow(item));
    }
    if (item.export_id === announced) announce(item);
  };

  const poll = async () => {
    pollTimer = null;
    const preparing = items.filter((item) => item.status === "preparing");
    const answers = await Promise.allSettled(preparing.map((item) => apiGet(`/exports/${item.export_id}`)));
    for (const answer of answers) if (answer.status === "fulfilled") update(answer.value);
    schedulePoll();
  };

  function schedulePoll() {
    stopPolling();
    if (items.some((item) => item.status === "preparing")) pollTimer = setTimeout(poll, POLL_MS);
  }

  const loadList = panelLoader(panel, ({ page, append }) => {
    items = append ? [...items, ...page.exports] : page.exports;
    nextCursor = page.next_cursor;
    render();
    for (const item of items) if (item.export_id === announced) announce(item);
    schedulePoll();
    return items.length ? null : "No exports yet; create one above.";
  });

  // The list from its first page: the API answers newest first.
  function refresh() {
    return loadList(async () => ({ page: await apiGet("/exports"), append: false }));
  }

  const loadMore = () => loadList(async () => ({ page: await apiGet("/exports", { cursor: nextCursor }), append: true }));

  const create = async (request, busy) => {
    busy.disabled = true;
    say("Creating the export…");
    try {
      announce(await apiPost("/exports", request));
      await refresh();
    } catch (error) {
      if (error.status !== 401) say(errorText(error), "error");
    } finally {
      busy.disabled = false;
    }
  };

  const act = async (button) => {
    const item = items.find((known) => known.export_id === button.closest("tr").dataset.exportId);
    if (button.dataset.action === "retry") {
      const request = Object.fromEntries(REQUEST_FIELDS.filter((name) => item[name] !== undefined && item[name] !== null)
        .map((name) => [name, item[name]]));
      return create(request, button);
    }
    button.disabled = true;
    try {
      update(await apiDelete(`/exports/${item.export_id}`));
    } catch (error) {
      if (error.status !== 401) say(errorText(error), "error");
      button.disabled = false;
    }
  };

  datasetSelect.addEventListener("change", showFields);
  panel.querySelector("#exports-refresh").addEventListener("click", refresh);
  more.addEventListener("click", loadMore);
  tableNode.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const dataset = datasetSelect.value;
    const { filters, problem } = readFilters(form, context.datasets[dataset]);
    if (problem) return say(problem, "error");
    create({ type: form.elements.type.value, dataset, filters }, form.querySelector("button[type=submit]"));
  });

  return {
    // Called when the dashboard's range or the campaigns change.
    setContext(next) {
      if (datasetSelect.options.length === 0) {
        datasetSelect.replaceChildren(...Object.keys(next.datasets).map((name) => el("option", { value: name, text: name })));
        // The export types the API takes, in its order; the first is its default.
        panel.querySelector("#export-type").append(...next.exportTypes.map((type, index) => el("label", {},
          el("input", { type: "radio", name: "type", value: type, checked: index === 0 }),
          el("span", { text: type.toUpperCase() }))));
      }
      context = next;
      showFields();
    },
    // The form set to a dataset and filters (the drill-down's "Export these"), for the admin to create.
    prefill(dataset, filters) {
      datasetSelect.value = dataset;
      showFields();
      for (const [name, value] of Object.entries(filters)) {
        const input = form.querySelector(`#export-filters [name="${name}"]`);
        if (input) input.value = String(value);
      }
      say(`Filled in from the drill-down: ${filtersText(filters)}. Choose a format and create it.`);
      form.scrollIntoView({ block: "start" });
      form.querySelector("button[type=submit]").focus();
    },
    refresh,
    stopPolling,
  };
}
