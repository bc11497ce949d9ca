// Live status from the gateway's Server-Sent Events stream (/api/events).
//
// One EventSource for the whole page, unfiltered, so that uploads from other
// tabs and people appear too. Each `status` event carries
// {id, status, variant, variant_status, at, error}; listeners get it parsed.
// The browser reconnects a dropped stream by itself; when it gives up (the
// stream answered with an error such as nginx's 503), connection.js is told
// and the stream is opened again after a growing pause, or at once when
// connection.js sees the API come back. Every (re)open
// calls the onOpen listeners, because events sent while the stream was down
// are lost and the page must re-read what was in work.

import { connection } from './connection.js';

const MIN_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

class Events {
  constructor() {
    this.source = null;
    this.statusListeners = new Set();
    this.openListeners = new Set();
    this.everOpened = false;
    this.retryTimer = 0;
    this.retryDelay = MIN_RETRY_MS;
    // Only a stream that was opened once (by connect()) is reopened here.
    connection.onReconnect(() => {
      if (this.source && this.source.readyState === EventSource.CLOSED) this.connect();
    });
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
  }

  onOpen(fn) {
    this.openListeners.add(fn);
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
    const source = new EventSource('/api/events');
    this.source = source;
    source.addEventListener('open', () => {
      this.retryDelay = MIN_RETRY_MS;
      connection.reportReachable();
      const again = this.everOpened;
      this.everOpened = true;
      for (const fn of this.openListeners) fn(again);
    });
    source.addEventListener('status', (e) => {
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return; // a malformed event is dropped, never fatal
      }
      if (!ev || typeof ev.id !== 'string') return;
      for (const fn of this.statusListeners) fn(ev);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        // The browser will not retry on its own (the stream answered with an
        // error, e.g. nginx's 503 while the gateway restarts): retry with a
        // growing pause, and let connection.js judge whether to show the
        // banner.
        connection.reportUnreachable();
        this.scheduleReconnect();
      }
    });
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }
}

export const events = new Events();
