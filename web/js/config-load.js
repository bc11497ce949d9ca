// Loads the server's settings (GET /api/config, see config.js) once at start
// and keeps trying until it has them.
//
// Nothing that names a variant or a limit can be drawn before then, so app.js
// waits for loadConfig() before it opens uploading, builds the gallery and
// opens the event stream; the page never falls back to a list of its own.
// A failure is written in the status line it is given (the gallery's error
// line, the page's main status area) and announced once. Retrying follows
// the page's connection logic: a network failure or a 502/503/504 reaches
// connection.js through api.js, which shows the offline banner and probes
// /api/healthz; the load is tried again at once when connection.js sees the
// API back, and in any case after a growing pause (connection.js's 1 s
// doubling to 15 s), so that an answer that came but was wrong (a 404 from an
// older gateway, a 500, a malformed body) is retried too.

import { getConfig } from './api.js';
import { config, setConfig } from './config.js';
import { connection, MIN_DELAY_MS, MAX_DELAY_MS } from './connection.js';

// Why the load failed, in words that finish "could not load …: ".
function reason(err) {
  if (err && err.offline) return 'the server cannot be reached';
  if (err && err.status) return `the server answered ${err.status}${err.detail ? ` (${err.detail})` : ''}`;
  return `its answer could not be used (${err && err.message ? err.message : 'unknown error'})`;
}

// Resolves with `config` once the server's settings are loaded; never
// rejects. `statusEl` shows the failure while there is one (hidden after);
// `announce(text)` tells screen readers about the first failure.
export function loadConfig({ statusEl, announce }) {
  return new Promise((resolve) => {
    let delay = MIN_DELAY_MS;
    let timer = 0;
    let busy = false;
    let failedBefore = false;
    let stopListening = () => {};

    const attempt = async () => {
      if (busy || config.loaded) return;
      busy = true;
      clearTimeout(timer);
      try {
        setConfig(await getConfig());
        stopListening();
        statusEl.hidden = true;
        resolve(config);
      } catch (err) {
        const text = `The page could not load the server's settings: ${reason(err)}. `
          + 'Uploading and the gallery start as soon as it has them; trying again shortly.';
        statusEl.textContent = text;
        statusEl.hidden = false;
        if (!failedBefore) announce(text);
        failedBefore = true;
        timer = setTimeout(attempt, delay);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      } finally {
        busy = false;
      }
    };

    stopListening = connection.onReconnect(() => {
      delay = MIN_DELAY_MS;
      attempt();
    });
    attempt();
  });
}
