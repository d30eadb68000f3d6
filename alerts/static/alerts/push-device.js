// "Notifications on this device" in the bell's popover: Web Push for this
// browser (docs/notifications.md, "Web Push"). Shown only where the browser
// has push (PushManager, service workers); it says so when the server has
// push turned off, or when this browser blocks notifications for the site.
//
// Turning it on asks the browser's permission, registers /sw.js, subscribes
// with the server's VAPID key and posts the subscription (it becomes one of
// the user's devices). Turning it off deletes that device and unsubscribes.
// Signing out deletes this device first: the next person on this browser
// gets none of this user's pushes.
import { api } from "/static/ws/pregon-api.js";

const section = document.getElementById("bell-push");
const state = document.getElementById("bell-push-state");
const toggle = document.getElementById("bell-push-toggle");
const supported = Boolean(section) && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

let serverKey = null; // the VAPID public key; "" when the server has push off; null until asked
let busy = false;

function show(message, action = null) {
  state.textContent = message;
  toggle.hidden = action === null;
  if (action) {
    toggle.textContent = action.label;
    toggle.dataset.action = action.name;
  }
  section.hidden = false;
  section.dataset.state = action ? action.name : "info";
}

async function askKey() {
  if (serverKey === null) {
    const { ok, status, data } = await api("GET", "/api/push/key");
    if (ok) serverKey = data.public_key;
    else if (status === 404) serverKey = "";
  }
  return serverKey;
}

async function subscriptionHere() {
  const registration = await navigator.serviceWorker.getRegistration("/");
  return registration ? registration.pushManager.getSubscription() : null;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

function madeWith(subscription, key) {
  const used = subscription.options?.applicationServerKey;
  if (!used) return false;
  const a = new Uint8Array(used);
  const b = keyBytes(key);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function mine(subscription) {
  const { ok, data } = await api("GET", "/api/push/devices");
  return ok && data.results.some((device) => device.endpoint === subscription.endpoint);
}

// What the section says now; called whenever the popover opens.
export async function refresh() {
  if (!supported || busy) return;
  const key = await askKey();
  if (key === null) return; // the server did not answer: next time
  if (key === "") {
    show(gettext("Notifications on this device are not available: this site has not set up Web Push."));
    return;
  }
  if (Notification.permission === "denied") {
    show(gettext("Notifications are blocked for this site in this browser's settings."));
    return;
  }
  const subscription = await subscriptionHere();
  if (subscription && madeWith(subscription, key) && (await mine(subscription))) {
    show(gettext("Notifications on for this device."), { name: "off", label: gettext("Turn off") });
  } else {
    show("", { name: "on", label: gettext("Enable notifications on this device") });
  }
}

async function turnOn() {
  const key = await askKey();
  if (!key) return;
  if ((await Notification.requestPermission()) !== "granted") return;
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !madeWith(subscription, key)) {
    await subscription.unsubscribe(); // made with a key the server no longer signs with
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const { ok, data } = await api("POST", "/api/push/devices", subscription.toJSON());
  if (!ok) throw new Error(data.error?.message ?? String(data));
}

async function turnOff() {
  const subscription = await subscriptionHere();
  if (!subscription) return;
  await api("DELETE", "/api/push/devices", { endpoint: subscription.endpoint });
  await subscription.unsubscribe();
}

if (supported) {
  toggle.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    toggle.disabled = true;
    const action = toggle.dataset.action;
    state.textContent = action === "on" ? gettext("Turning on…") : gettext("Turning off…");
    let failure = null;
    try {
      await (action === "on" ? turnOn() : turnOff());
    } catch (error) {
      failure = error;
    }
    busy = false;
    toggle.disabled = false;
    await refresh();
    if (failure) {
      const words =
        action === "on"
          ? gettext("Could not turn on notifications on this device: %s")
          : gettext("Could not turn off notifications on this device: %s");
      state.textContent = interpolate(words, [failure.message]);
      section.dataset.state = "error";
    }
  });

  // Sign out: this device stops getting the user's pushes first (a short
  // wait, at most two seconds, then the sign-out goes ahead anyway).
  const signOut = document.querySelector("form[data-sign-out]");
  signOut?.addEventListener("submit", async (event) => {
    if (signOut.dataset.deviceForgotten) return;
    event.preventDefault();
    const forget = (async () => {
      const subscription = await subscriptionHere();
      if (subscription) await api("DELETE", "/api/push/devices", { endpoint: subscription.endpoint });
    })();
    await Promise.race([forget.catch(() => null), new Promise((resolve) => setTimeout(resolve, 2000))]);
    signOut.dataset.deviceForgotten = "1";
    signOut.requestSubmit();
  });
}
