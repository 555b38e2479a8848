// The app's service worker (VERSION and SHELL are written in above by the server).
// It keeps the shell - the page, its scripts, styles and icons - so the app opens with no
// signal. It never touches /api/: the commune's data lives in IndexedDB, and API requests
// go to the network as they are (offline they fail, and the app keeps its outbox).
const CACHE = `fieldsync-app-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("fieldsync-app-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/app/") || url.pathname === "/app/sw.js") return;
  const key = url.pathname === "/app/" || event.request.mode === "navigate" ? "/app/" : url.pathname;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const kept = await cache.match(key);
      if (kept) return kept;
      const answer = await fetch(event.request);
      if (answer.ok && SHELL.includes(key)) cache.put(key, answer.clone());
      return answer;
    }),
  );
});
