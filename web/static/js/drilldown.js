// Drill-down: a feature, a top user or a trend bucket opens the matching transactions, 50 a page,
// read from the API with the transactions export's own filters; "Export these" hands the same
// filters to the export form.
import { apiGet } from "./api.js";
import { addDays } from "./dates.js";
import { el, errorText, setPanelState, table } from "./dom.js";
import { formatInteger, formatTimestamp } from "./format.js";

export const DATASET = "transactions";
const PAGE_SIZE = 50;
// What a top user's metric counts: spend is their debits, earn their credits, net both.
const METRIC_DIRECTION = { spend: "debit", earn: "credit" };
const HINT = "Click a feature, a top user or a trend period to see its transactions.";

// A button that opens the drill-down; `what` is feature, user or bucket, `value` what was clicked,
// `content` what it shows (text or nodes).
export function drillButton(what, value, content, description) {
  return el("button", { type: "button", class: "drill", dataset: { drill: what, value: String(value) },
    title: description }, content);
}

function lastDayOfBucket(first, granularity) {
  if (granularity === "weekly") return addDays(first, 6);
  if (granularity === "monthly") return addDays(`${addDays(first, 32).slice(0, 8)}01`, -1);
  return first;
}

// The filters and a title for what was clicked, within the dashboard's range.
export function drillFilters(what, value, state) {
  const { from, to } = state.range;
  if (what === "feature") return { title: `Feature “${value}”`, filters: { from, to, reason: value } };
  if (what === "user") {
    const direction = METRIC_DIRECTION[state.metric];
    const filters = { from, to, user_id: Number(value), ...(direction ? { direction } : {}) };
    return { title: `User #${value}${direction ? ` (${state.metric}: ${direction}s)` : ""}`, filters };
  }
  // A bucket is labelled by its first day, which may lie before `from` (a week's Monday).
  const first = value < from ? from : value;
  const last = lastDayOfBucket(value, state.granularity);
  const filters = { from: first, to: last > to ? to : last };
  return { title: `${state.granularity[0].toUpperCase()}${state.granularity.slice(1)} bucket ${value}`, filters };
}

export function filtersText(filters) {
  const parts = [];
  if (filters.from) parts.push(filters.from === filters.to ? filters.from : `${filters.from} → ${filters.to}`);
  for (const [name, value] of Object.entries(filters)) {
    if (name !== "from" && name !== "to") parts.push(`${name.replace(/_/g, " ")} ${value}`);
  }
  return parts.join(" · ");
}

function row(item) {
  return el("tr", { dataset: { id: item.id } },
    el("td", { class: "nowrap", text: formatTimestamp(item.occurred_at) }),
    el("td", {}, item.username, el("span", { class: "muted", text: ` #${item.user_id}` })),
    el("td", { text: item.reason }),
    el("td", { text: item.token_type }),
    el("td", { text: item.direction }),
    el("td", { class: "num", dataset: { key: "amount", value: String(item.amount) }, text: formatInteger(item.amount) }),
    el("td", { class: "num", text: formatInteger(item.balance_after_regular) }),
    el("td", { class: "num", text: formatInteger(item.balance_after_promo) }),
    el("td", { class: "muted", text: item.reference_id || "" }));
}

export function drilldownPanel(currentState, exportThese) {
  const panel = document.querySelector('[data-panel="drilldown"]');
  const previous = panel.querySelector("#drilldown-previous");
  const next = panel.querySelector("#drilldown-next");
  let opened = null; // { title, filters }
  let cursors = [null]; // the cursor of every page seen so far; the last is the next page's
  let page = 0;

  let asked = 0; // answers to an earlier question, or arriving after a close, are dropped

  const render = ({ transactions, next_cursor: nextCursor }) => {
    cursors = [...cursors.slice(0, page + 1), nextCursor];
    table(panel.querySelector("#drilldown-table"),
      [["Time"], ["User"], ["Reason"], ["Type"], ["Direction"], ["Amount", "num"], ["Regular after", "num"],
        ["Promo after", "num"], ["Reference"]], transactions.map(row));
    const first = page * PAGE_SIZE + 1;
    panel.querySelector("#drilldown-page").textContent = transactions.length
      ? `Page ${page + 1} · rows ${formatInteger(first)}–${formatInteger(first + transactions.length - 1)}` : "";
    previous.disabled = page === 0;
    next.disabled = !nextCursor;
    setPanelState(panel, transactions.length ? "ready" : "empty", transactions.length ? "" : "No transactions match.");
  };

  const show = async () => {
    const mine = ++asked;
    panel.querySelector(":scope > .retry")?.remove();
    previous.disabled = next.disabled = true;
    setPanelState(panel, "loading", "Loading…");
    try {
      const body = await apiGet(`/${DATASET}`, { ...opened.filters, limit: PAGE_SIZE, cursor: cursors[page] });
      if (mine === asked) render(body);
    } catch (error) {
      if (mine !== asked || error.status === 401) return;
      previous.disabled = page === 0; // Previous leads back to the page shown before
      setPanelState(panel, "error", errorText(error));
      const retry = el("button", { type: "button", class: "retry", text: "Try again" });
      retry.addEventListener("click", show);
      panel.querySelector(".panel-status").after(retry);
    }
  };

  function open(what, value) {
    opened = drillFilters(what, value, currentState());
    cursors = [null];
    page = 0;
    panel.querySelector("#drilldown-title").textContent = `Transactions · ${opened.title}`;
    panel.querySelector("#drilldown-filters").textContent = filtersText(opened.filters);
    show();
    panel.scrollIntoView({ block: "start" });
    panel.querySelector("#drilldown-title").focus();
  }

  function close() {
    asked += 1;
    panel.querySelector(":scope > .retry")?.remove();
    opened = null;
    panel.querySelector("#drilldown-title").textContent = "Transactions";
    setPanelState(panel, "closed", HINT);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-drill]");
    if (button) open(button.dataset.drill, button.dataset.value);
  });
  // The trend chart's bars say which bucket was clicked.
  document.addEventListener("drill", (event) => open(event.detail.what, event.detail.value));
  previous.addEventListener("click", () => {
    page -= 1;
    show();
  });
  next.addEventListener("click", () => {
    page += 1;
    show();
  });
  panel.querySelector("#drilldown-close").addEventListener("click", close);
  panel.querySelector("#drilldown-export").addEventListener("click", () => exportThese(DATASET, opened.filters));

  // A new range, granularity or metric makes the rows shown another question's: close them.
  return { close };
}
