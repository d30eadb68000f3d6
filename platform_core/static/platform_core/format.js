// Dates, times, numbers and money as the reader reads them: the page's
// language (<html lang>) and the tenant's time zone (<html data-time-zone>),
// through Intl (docs/i18n.md). Scripts never call toLocaleString() bare: that
// would use the browser's language and the computer's clock zone.
const root = document.documentElement;
export const locale = root.lang || "en";
export const timeZone = root.dataset.timeZone || "UTC";

const cache = new Map();
function formatter(Kind, options) {
  const key = `${Kind.name}|${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    try {
      cache.set(key, new Kind(locale, options));
    } catch {
      // An unknown currency or time zone: the same without it.
      const { currency, timeZone: _zone, ...rest } = options;
      cache.set(key, new Kind(locale, currency ? { ...rest, style: "decimal", minimumFractionDigits: 2 } : rest));
    }
  }
  return cache.get(key);
}

const asDate = (value) => (value instanceof Date ? value : new Date(value));

// "3/12/2026, 9:05" (es) / "12/3/2026, 9:05 AM" (en), in the tenant's zone.
export function dateTime(value) {
  return formatter(Intl.DateTimeFormat, { dateStyle: "short", timeStyle: "short", timeZone }).format(asDate(value));
}

// "9:05:12" / "9:05:12 AM", in the tenant's zone.
export function time(value) {
  return formatter(Intl.DateTimeFormat, { timeStyle: "medium", timeZone }).format(asDate(value));
}

// "18,50 €" (es) / "€18.50" (en). `amount` is the API's decimal string.
export function money(amount, currency) {
  const number = Number(amount);
  if (!Number.isFinite(number)) return `${amount} ${currency || ""}`.trim();
  if (!currency) return formatter(Intl.NumberFormat, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(number);
  return formatter(Intl.NumberFormat, { style: "currency", currency }).format(number);
}

export function number(value) {
  return formatter(Intl.NumberFormat, {}).format(value);
}

// "hace 2 min" / "2 min ago"; "ahora" / "now" under a minute.
const STEPS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
export function relative(value, now = Date.now()) {
  const seconds = Math.round((asDate(value).getTime() - now) / 1000);
  const words = formatter(Intl.RelativeTimeFormat, { numeric: "auto", style: "short" });
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size) return words.format(Math.trunc(seconds / size), unit);
  }
  return words.format(0, "second");
}
