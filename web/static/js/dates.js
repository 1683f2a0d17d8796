// Calendar days as "YYYY-MM-DD" strings. "Today" comes from the server (the report zone's day),
// never from the browser's clock and zone; arithmetic is done in UTC so no DST shifts a day.
const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 365;

const toTime = (day) => Date.parse(`${day}T00:00:00Z`);
const fromTime = (time) => new Date(time).toISOString().slice(0, 10);

export const addDays = (day, count) => fromTime(toTime(day) + count * DAY_MS);
export const daysBetween = (first, last) => Math.round((toTime(last) - toTime(first)) / DAY_MS);
export const isDay = (value) => /^\d{4}-\d{2}-\d{2}$/.test(value || "") && fromTime(toTime(value)) === value;

function firstOfMonth(day) {
  return `${day.slice(0, 8)}01`;
}

export function presetRange(preset, today) {
  const lastDays = { "7d": 7, "30d": 30, "90d": 90, "365d": 365 }[preset];
  if (lastDays) return { from: addDays(today, 1 - lastDays), to: today };
  if (preset === "this-month") return { from: firstOfMonth(today), to: today };
  if (preset === "last-month") {
    const to = addDays(firstOfMonth(today), -1);
    return { from: firstOfMonth(to), to };
  }
  throw new Error(`unknown preset ${preset}`);
}

// The period of the same length that ends the day before `from`.
export function previousRange({ from, to }) {
  const length = daysBetween(from, to) + 1;
  return { from: addDays(from, -length), to: addDays(from, -1) };
}

// The API's own rules (400/422), checked before asking it; null when the range is fine.
export function rangeProblem(from, to, { required = true } = {}) {
  if (!from && !to && !required) return null;
  if (!from || !to) return "Choose both a from and a to date.";
  if (!isDay(from) || !isDay(to)) return "Dates must be real days in YYYY-MM-DD form.";
  if (from > to) return `From (${from}) must not be after to (${to}); swap them.`;
  if (daysBetween(from, to) > MAX_RANGE_DAYS) {
    return `The range spans ${daysBetween(from, to)} days; the most is ${MAX_RANGE_DAYS}. Narrow it.`;
  }
  return null;
}
