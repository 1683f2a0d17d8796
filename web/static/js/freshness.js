// "Data through …": the instant the range's figures were read (X-Data-Fresh-As-Of: every change
// committed before it is in them) and, from GET …/status, how far the fold-in of changes into
// stored days has come (docs/freshness.md).
import { apiGet } from "./api.js";
import { errorText } from "./dom.js";
import { formatInteger, formatTimestamp } from "./format.js";

const seconds = (value) => value.replace("T", " ").slice(0, 19);

export function freshnessLine() {
  const line = document.querySelector("#freshness");
  let generation = 0;
  let readAt = null;
  let status = null;
  let range = null;
  let today = null;

  const show = () => {
    if (!readAt) return;
    const parts = [`Data through ${seconds(readAt)}: every change committed before then is counted.`];
    if (range.to >= today && range.from <= today) parts.push(`Today (${today}) is partial: it runs to ${formatTimestamp(readAt).slice(11)}.`);
    if (status instanceof Error) parts.push(`Fold-in status unavailable (${errorText(status)}).`);
    else if (status) {
      const waiting = status.pending_changes
        ? `${formatInteger(status.pending_changes)} newer changes wait to be folded into stored days (they are counted live meanwhile)`
        : "No change waits to be folded into stored days";
      const last = status.last_fold_in_at ? `; last fold-in ${seconds(status.last_fold_in_at)}` : "";
      parts.push(`${waiting}${last}.`);
    }
    line.textContent = parts.join(" ");
    line.hidden = false;
  };

  return {
    // A new view: ask the status route again; the figures' instant arrives with the KPIs.
    load(state, day) {
      const mine = ++generation;
      readAt = null;
      status = null;
      range = state.range;
      today = day;
      line.hidden = true;
      apiGet("/status").then((body) => body, (error) => error).then((answer) => {
        if (mine !== generation || answer?.status === 401) return;
        status = answer;
        show();
      });
    },
    figuresRead(instant) {
      readAt = instant;
      show();
    },
  };
}
