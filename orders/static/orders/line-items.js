// How a line item reads, on the board and on the order's page.

// Options are any JSON the shop sent: a list of {name, value} reads as
// "name: value"; anything else is shown as JSON. Items stored before the
// line item schema may lack any field.
export function optionsText(options) {
  if (options === null || options === undefined || options === "") return "";
  if (typeof options === "string") return options;
  const pairs = Array.isArray(options) && options.every((o) => o && typeof o === "object" && "name" in o && "value" in o);
  if (!pairs) return JSON.stringify(options);
  return options.map((o) => `${o.name}: ${typeof o.value === "object" ? JSON.stringify(o.value) : o.value}`).join(", ");
}

// A note for the kitchen on one item travels among its free-form extras.
const NOTE_KEYS = ["notes", "note", "comment", "instructions"];
export function itemNote(item) {
  const extra = item.extra && typeof item.extra === "object" ? item.extra : item;
  const key = NOTE_KEYS.find((k) => typeof extra[k] === "string" && extra[k].trim());
  return key ? extra[key] : "";
}
