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

const lastOfMonth = (day) => addDays(firstOfMonth(addDays(firstOfMonth(day), 31)), -1);
const earlier = (a, b) => (a < b ? a : b);

// What the KPI changes compare, like with like: the range's complete days (today is left out
// until it is over) against as many days of the period before. A range from the 1st within one
// month is compared with the first as many days of the previous month; any other range with the
// same number of days just before it. Null when no day of the range is complete yet.
export function comparison({ from, to }, today) {
  const lastComplete = earlier(to, addDays(today, -1));
  if (lastComplete < from) return null;
  const days = daysBetween(from, lastComplete) + 1;
  const current = { from, to: lastComplete };
  const leavesOutToday = to >= today;
  if (from === firstOfMonth(from) && lastComplete.slice(0, 7) === from.slice(0, 7)) {
    const monthBefore = firstOfMonth(addDays(from, -1));
    const wholeMonth = lastComplete === lastOfMonth(from);
    const previous = { from: monthBefore, to: wholeMonth ? lastOfMonth(monthBefore) : earlier(addDays(monthBefore, days - 1), lastOfMonth(monthBefore)) };
    const label = wholeMonth ? `vs ${monthBefore.slice(0, 7)}` : `vs first ${daysBetween(previous.from, previous.to) + 1} days of ${monthBefore.slice(0, 7)}`;
    return { current, previous, label, leavesOutToday };
  }
  const previous = { from: addDays(from, -days), to: addDays(from, -1) };
  return { current, previous, label: `vs previous ${days} day${days === 1 ? "" : "s"}`, leavesOutToday };
}

// A trend bucket (labelled by its first day: the Monday of a week, the 1st of a month) is partial
// when only some of its days count: it starts before `from`, ends after `to`, or is not over.
export function bucketPartiality(label, granularity, { from, to }, today) {
  const end = { daily: label, weekly: addDays(label, 6), monthly: lastOfMonth(label) }[granularity];
  const reasons = [];
  if (label < from) reasons.push(`starts before ${from}: only days from ${from} count`);
  if (end > to) reasons.push(`ends after ${to}: only days through ${to} count`);
  if (end >= today && today <= to) reasons.push(label === today && granularity === "daily" ? "today, so far" : "not over yet");
  return reasons;
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
