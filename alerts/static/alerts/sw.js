// Pregón's service worker, served at /sw.js (scope: every page of the
// tenant's host). It only shows Web Push notifications and opens their page;
// it caches nothing and handles no fetch. A push's payload is JSON from
// alerts/push.py: {id, title, body, url, tag}, already in the reader's
// language (docs/notifications.md, "Web Push").
"use strict";

const ICON = "/static/alerts/push-icon.png";

// The page a notification opens: only a page of this site: the path of the link (the server builds it
// on the tenant's host, which a proxy may name differently), with its
// leading slashes made one ("//elsewhere" would leave the site), and the
// home page if it still would not be ours.
function targetUrl(data) {
  const home = new URL("/", self.location.origin).href;
  let url;
  try {
    url = new URL(data && typeof data.url === "string" ? data.url : "/", self.location.origin);
  } catch {
    return home;
  }
  const path = `/${url.pathname.replace(/^[/\\]+/, "")}${url.search}${url.hash}`;
  const target = new URL(path, self.location.origin);
  return target.origin === self.location.origin ? target.href : home;
}

function payloadOf(event) {
  if (!event.data) return {};
  try {
    const data = event.data.json();
    return data && typeof data === "object" ? data : {};
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const data = payloadOf(event);
  const tag = typeof data.tag === "string" && data.tag ? data.tag : undefined;
  event.waitUntil(
    self.registration.showNotification(typeof data.title === "string" && data.title ? data.title : "Pregón", {
      body: typeof data.body === "string" ? data.body : "",
      icon: ICON,
      badge: ICON,
      tag,
      // News of the same order replaces the last one, and still rings.
      renotify: Boolean(tag),
      timestamp: Date.now(),
      data: { id: data.id, url: targetUrl(data) },
    }),
  );
});

// A click focuses a tab already on that page, or opens one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = targetUrl(event.notification.data);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => client.url === url);
      if (open) return open.focus();
      return self.clients.openWindow(url);
    })(),
  );
});

// A new worker takes over at once: it holds no state an old page relies on.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
