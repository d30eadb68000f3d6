// Tenant admins' pages (/manage/): a confirmation dialog before a form
// that does something hard to undo, and copy-to-clipboard buttons. The
// texts come from the page (data attributes), so they are translated there.

const dialog = document.getElementById("confirm");

// Ask `text` in the page's <dialog id="confirm">; resolves true for OK.
export function confirmDialog(text, okLabel) {
  if (!dialog) return Promise.resolve(window.confirm(text));
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector("#confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// Copy `text`; resolves false where the browser refuses (no permission,
// not a secure context), and the caller selects the text for a manual copy.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// A button that copies the value or text of the element named by its
// `data-copy`, and says so for a moment (its `data-copied` text).
export function wireCopyButton(button) {
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    const text = "value" in source ? source.value : source.textContent;
    if (await copyText(text)) {
      const before = button.innerHTML;
      button.textContent = button.dataset.copied;
      button.dataset.state = "copied";
      setTimeout(() => {
        button.innerHTML = before;
        delete button.dataset.state;
      }, 2000);
    } else if (source.select) {
      source.select();
    } else {
      getSelection().selectAllChildren(source);
    }
  });
}

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.confirmed === "yes") return;
    event.preventDefault();
    if (await confirmDialog(form.dataset.confirm, form.dataset.confirmOk)) {
      form.dataset.confirmed = "yes";
      form.requestSubmit();
    }
  });
}

for (const button of document.querySelectorAll("button[data-copy]")) wireCopyButton(button);
