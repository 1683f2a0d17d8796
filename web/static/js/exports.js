// Exports: a form per dataset with its filters (the spec's "Dataset Filters"), and the admin's
// exports with live status while any is preparing.
import { apiGet, apiPost } from "./api.js";
import { rangeProblem } from "./dates.js";
import { el, errorText, panelLoader, table } from "./dom.js";
import { formatBytes, formatInteger, formatTimestamp } from "./format.js";

const POLL_MS = 2000;
const DATE_RANGE = [["from", "date"], ["to", "date"]];

function field([name, kind, label], { range, campaigns }) {
  const text = label || name.replace("_", " ");
  let input;
  if (Array.isArray(kind) || kind === "campaign") {
    const options = kind === "campaign" ? campaigns.map((c) => [c.id, c.name]) : kind.map((value) => [value, value]);
    input = el("select", { name }, el("option", { value: "", text: "any" }),
      options.map(([value, shown]) => el("option", { value, text: shown })));
  } else if (kind === "date") {
    input = el("input", { type: "date", name, value: range[name] });
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

function downloadCell(item) {
  if (item.status !== "ready" || !item.download_url) return el("td");
  return el("td", {}, el("a", { class: "button", href: item.download_url, download: "", text: "Download" }),
    el("span", { class: "muted", text: item.file_size ? ` ${formatBytes(item.file_size)}` : "" }));
}

export function exportsPanel() {
  const panel = document.querySelector('[data-panel="exports"]');
  const form = panel.querySelector("#export-form");
  const datasetSelect = form.querySelector("#export-dataset");
  const message = form.querySelector("#export-message");
  let context = { range: {}, campaigns: [], datasets: {} };
  let pollTimer = null;

  const say = (text, kind) => {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = `message ${kind || ""}`;
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

  const loadList = panelLoader(panel, ({ exports: items }) => {
    table(panel.querySelector("#exports-table"),
      [["Created"], ["Dataset"], ["Status"], ["Rows", "num"], ["Expires"], ["File"]],
      items.map((item) => el("tr", { dataset: { exportId: item.export_id, status: item.status } },
        el("td", { text: formatTimestamp(item.created_at) }),
        el("td", { text: `${item.dataset} · ${item.type}` }),
        statusCell(item),
        rowsCell(item),
        el("td", { text: formatTimestamp(item.expires_at) }),
        downloadCell(item))));
    stopPolling();
    if (items.some((item) => item.status === "preparing")) pollTimer = setTimeout(refresh, POLL_MS);
    return items.length ? null : "No exports yet; create one above.";
  });

  // The list's first page: the API answers newest first.
  function refresh() {
    return loadList(() => apiGet("/exports"));
  }

  datasetSelect.addEventListener("change", showFields);
  panel.querySelector("#exports-refresh").addEventListener("click", refresh);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const dataset = datasetSelect.value;
    const { filters, problem } = readFilters(form, context.datasets[dataset]);
    if (problem) return say(problem, "error");
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    say("Creating the export…");
    try {
      const created = await apiPost("/exports", { type: form.elements.type.value, dataset, filters });
      say(`Export ${created.export_id} created (${created.status}).`, "ok");
      await refresh();
    } catch (error) {
      if (error.status !== 401) say(errorText(error), "error");
    } finally {
      submit.disabled = false;
    }
  });

  return {
    // Called when the dashboard's range or the campaigns change.
    setContext(next) {
      if (datasetSelect.options.length === 0) {
        datasetSelect.replaceChildren(...Object.keys(next.datasets).map((name) => el("option", { value: name, text: name })));
      }
      context = next;
      showFields();
    },
    refresh,
    stopPolling,
  };
}
