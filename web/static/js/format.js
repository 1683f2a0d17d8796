// One number format everywhere (cards, tables, chart ticks and tooltips): the report zone's
// locale from GET …/meta (en-IN for Asia/Kolkata: lakh grouping), rupees for money.
let integer;
let decimal;
let rupees;

export function useLocale(locale) {
  integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  decimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  rupees = new Intl.NumberFormat(locale, { style: "currency", currency: "INR" });
}
useLocale("en-IN");

export const formatInteger = (value) => integer.format(value);
export const formatDecimal = (value) => decimal.format(value);
export const formatRupees = (value) => rupees.format(value);
export const formatPercent = (value) => `${decimal.format(value)} %`;

// Change against the previous period; null when there is nothing to compare with.
export function relativeChange(current, previous) {
  if (previous === 0) return current === 0 ? 0 : null;
  return ((current - previous) / Math.abs(previous)) * 100;
}

export function formatChange(change) {
  if (change === null) return "new";
  if (change === 0) return "±0 %";
  const sign = change > 0 ? "▲ +" : "▼ −";
  return `${sign}${decimal.format(Math.abs(change))} %`;
}

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

// API timestamps are ISO 8601 in the report zone; show them as that zone's wall-clock time.
export function formatTimestamp(value) {
  if (!value) return "";
  return value.replace("T", " ").slice(0, 16);
}
