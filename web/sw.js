// Service worker of the helper app (registered with scope /helper, so it controls only
// helper.html). The app shell is cached at install and refreshed on every successful load; the
// helper's own data (account, application, profile, figures, bookings and their messages) is network-first
// with the last good answer as the fallback, so accepted jobs stay readable without a connection.
// Everything else goes straight to the network.
const VERSION = 'v2';
const SHELL = `quartier-helper-shell-${VERSION}`;
const API = 'quartier-helper-api';
const SHELL_FILES = [
  '/helper.html', '/helper.css', '/app.css', '/common.js', '/helper.js', '/helper-ui.js', '/helper-job.js',
  '/helper-profile.js', '/helper-schedule.js', '/helper-progress.js', '/helper-strings.js', '/icon.svg', '/manifest.webmanifest',
];
// GET requests whose last answer is kept for offline use.
const CACHED_API = [/^\/v1\/me$/, /^\/v1\/bookings(\/[^/]+(\/(messages|reviews))?)?$/, /^\/v1\/helper\/(application|profile|metrics)$/, /^\/v1\/levels$/];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('quartier-helper-shell-') && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (CACHED_API.some((re) => re.test(url.pathname))) {
    event.respondWith(networkFirst(req));
    return;
  }
  const path = url.pathname === '/helper' ? '/helper.html' : url.pathname;
  if (SHELL_FILES.includes(path)) event.respondWith(shell(req, path));
});

async function networkFirst(req) {
  const cache = await caches.open(API);
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(req, res.clone());
    return res;
  } catch (err) {
    // Keys ignore the Authorization header; the page deletes this cache when the helper signs out.
    const hit = await cache.match(req, { ignoreVary: true });
    if (hit) {
      const headers = new Headers(hit.headers);
      headers.set('X-Quartier-Offline', '1');
      return new Response(hit.body, { status: hit.status, statusText: hit.statusText, headers });
    }
    throw err;
  }
}

// Network first, so a deployed change shows at once; the cached copy when the network fails or
// takes longer than three seconds (a phone on a weak signal).
async function shell(req, path) {
  const cache = await caches.open(SHELL);
  const network = fetch(req).then(async (res) => {
    if (res.ok) await cache.put(path, res.clone());
    return res;
  });
  const slow = new Promise((resolve) => { setTimeout(resolve, 3000, null); });
  try {
    const first = await Promise.race([network, slow]);
    if (first) return first;
  } catch { /* offline: the cache below */ }
  const hit = await cache.match(path);
  if (hit) { network.catch(() => {}); return hit; }
  return network;
}
