// Renders /api/openapi.json as a readable list (no CDN, no build step).
const root = document.getElementById("api");
const spec = await (await fetch("/api/openapi.json")).json();
const intro = document.createElement("p");
intro.textContent = spec.info.description;
root.append(intro);
for (const [path, operations] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(operations)) {
    const box = document.createElement("div");
    box.className = "op";
    const verb = document.createElement("span");
    verb.className = "method";
    verb.textContent = method;
    const code = document.createElement("code");
    code.textContent = path;
    const summary = document.createElement("p");
    summary.textContent = op.summary;
    const codes = document.createElement("p");
    codes.className = "codes";
    codes.textContent = `${root.dataset.answers} ${Object.keys(op.responses).join(", ")}`;
    box.append(verb, code, summary, codes);
    root.append(box);
  }
}
