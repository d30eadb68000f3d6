// Times of notifications, in the reader's language (<html lang>) and the
// tenant's time zone (<html data-time-zone>): "hace 2 min" next to the date.
// Every <time data-relative> on the page is refreshed once a minute.

const root = document.documentElement;
const lang = root.lang || "en";
const timeZone = root.dataset.timeZone || undefined;

const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
const absolute = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone });

const STEPS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

export function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
  }
  return relative.format(0, "second"); // "now" / "ahora"
}

export function absoluteTime(iso) {
  return absolute.format(new Date(iso));
}

// <time datetime=… data-relative>: "hace 2 min", the date and time for a
// pointer (title) and for those who ask for it (`full`: both in the text).
export function timeElement(iso, { full = false } = {}) {
  const element = document.createElement("time");
  element.dateTime = iso;
  element.dataset.relative = full ? "full" : "short";
  render(element);
  return element;
}

function render(element) {
  const iso = element.dateTime;
  const when = relativeTime(iso);
  element.title = absoluteTime(iso);
  element.textContent = element.dataset.relative === "full" ? `${when} · ${element.title}` : when;
}

function refresh() {
  document.querySelectorAll("time[data-relative]").forEach(render);
}

let started = false;
export function keepFresh() {
  if (started) return;
  started = true;
  setInterval(refresh, 60_000);
}
